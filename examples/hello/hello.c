/* The demo program: built statically, so the image needs nothing else to run it. */
#include <stdio.h>
#include <sys/utsname.h>

int main(void) {
    struct utsname u;
    uname(&u);
    printf("Hello from Lamina! (a single-layer image, running on %s %s)\n", u.sysname, u.machine);
    return 0;
}
