/*
 * A preload library that makes fsync and fdatasync slow, as on a kiosk's SD
 * card: each call sleeps SLOWFSYNC_MS milliseconds (default 20), then does
 * the real sync. Used by the tests and benchmarks:
 *     LD_PRELOAD=build/rel/slowfsync.so SLOWFSYNC_MS=20 ./build/kioskd serve
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void slow(void)
{
    const char *v = getenv("SLOWFSYNC_MS");
    long ms = v ? strtol(v, NULL, 10) : 20;
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow();
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow();
    return real(fd);
}
