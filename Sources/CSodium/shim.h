#ifndef LAMINA_CSODIUM_SHIM_H
#define LAMINA_CSODIUM_SHIM_H
/* libsodium (Debian libsodium-dev): nacl secretbox (XSalsa20-Poly1305) for cosign's encrypted private keys. */
#include <sodium.h>
#endif
