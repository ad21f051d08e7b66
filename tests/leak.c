/*
 * leak.so: an LD_PRELOAD library that makes kioskd leak on purpose, to prove
 * that the soak (tests/integration/soak.py, bench/soak.py --leak) fails on a
 * daemon whose memory or descriptors grow steadily. Each connection kioskd
 * accepts leaks LEAK_BYTES (default 2048) bytes of touched memory, and every
 * LEAK_FD_EVERY-th (default 200) a duplicate of its descriptor.
 *
 *   LD_PRELOAD=build/rel/leak.so ./build/kioskd serve -c kioskd.ini
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned long accepted;

static void leak(int fd)
{
    if (fd < 0)
        return;
    const char *b = getenv("LEAK_BYTES"), *e = getenv("LEAK_FD_EVERY");
    size_t n = b ? strtoul(b, NULL, 10) : 2048;
    unsigned long every = e ? strtoul(e, NULL, 10) : 200;
    char *p = malloc(n);
    if (p)
        memset(p, 0x5a, n); /* touched, so it counts in RSS; never freed */
    if (every && __atomic_add_fetch(&accepted, 1, __ATOMIC_RELAXED) % every == 0)
        (void)dup(fd);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    int (*real)(int, struct sockaddr *, socklen_t *) =
        (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    int c = real(fd, addr, len);
    leak(c);
    return c;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int (*real)(int, struct sockaddr *, socklen_t *, int) =
        (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    int c = real(fd, addr, len, flags);
    leak(c);
    return c;
}
