/*
 * slowfsync.so: an LD_PRELOAD library that makes fsync() and fdatasync()
 * take SLOWFSYNC_MS milliseconds longer (default 20), like a kiosk's SD
 * card, then calls the real function (found with dlsym(RTLD_NEXT)).
 *
 *   LD_PRELOAD=bench/out/slowfsync.so SLOWFSYNC_MS=20 ./build/kioskd serve ...
 *
 * With SLOWFSYNC_COUNT=FILE it appends "fsync=N fdatasync=N" to FILE when the
 * process exits, so a benchmark can check how many flushes a run cost.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*sync_fn)(int);

static sync_fn real_fsync, real_fdatasync;
static long delay_ns = 20L * 1000000L;
static unsigned long n_fsync, n_fdatasync; /* updated with __atomic builtins */

__attribute__((constructor)) static void slowfsync_init(void)
{
    /* POSIX allows converting dlsym's void * to a function pointer. */
    *(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
    *(void **)&real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    const char *ms = getenv("SLOWFSYNC_MS");
    if (ms && *ms) {
        char *end;
        double v = strtod(ms, &end);
        if (*end == '\0' && v >= 0 && v <= 60000)
            delay_ns = (long)(v * 1e6);
        else
            fprintf(stderr, "slowfsync: ignoring SLOWFSYNC_MS=%s (0 to 60000)\n", ms);
    }
}

__attribute__((destructor)) static void slowfsync_fini(void)
{
    const char *path = getenv("SLOWFSYNC_COUNT");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "fsync=%lu fdatasync=%lu\n", __atomic_load_n(&n_fsync, __ATOMIC_RELAXED),
            __atomic_load_n(&n_fdatasync, __ATOMIC_RELAXED));
    fclose(f);
}

static void pause_card(void)
{
    struct timespec ts = {delay_ns / 1000000000L, delay_ns % 1000000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int fsync(int fd)
{
    __atomic_add_fetch(&n_fsync, 1, __ATOMIC_RELAXED);
    pause_card();
    if (!real_fsync) {
        errno = ENOSYS;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    __atomic_add_fetch(&n_fdatasync, 1, __ATOMIC_RELAXED);
    pause_card();
    if (!real_fdatasync) {
        errno = ENOSYS;
        return -1;
    }
    return real_fdatasync(fd);
}
