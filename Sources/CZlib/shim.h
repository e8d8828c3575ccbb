#ifndef LAMINA_CZLIB_SHIM_H
#define LAMINA_CZLIB_SHIM_H
#include <zlib.h>
/* Extended attributes (lgetxattr), which Glibc's Swift module does not export. */
#include <sys/xattr.h>

/* deflateInit2 / inflateInit2 are macros; Swift cannot call them directly. */
static inline int lamina_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel,
                                      int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

static inline int lamina_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}

/* crc32_combine takes a z_off_t, whose width depends on large-file macros; give Swift a fixed type. */
static inline unsigned long lamina_crc32_combine(unsigned long crc1, unsigned long crc2, long long length2) {
    return crc32_combine(crc1, crc2, (z_off_t)length2);
}
#endif
