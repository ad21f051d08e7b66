/*
 * failalloc.so: an LD_PRELOAD library that makes chosen allocations fail, so
 * tests can check that kioskd answers a clear error, loses nothing it has
 * acknowledged, and keeps serving when memory runs out (issue 24).
 *
 * It replaces malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign
 * and valloc; glibc's own strdup, getline, asprintf... call these through
 * their interposable names, and so do SQLite, jansson, libwebsockets, libcurl
 * and mbedTLS. The real allocation is glibc's __libc_* entry (no dlsym, which
 * itself allocates). A failed call returns NULL with errno ENOMEM.
 *
 * KIOSKD_FAILALLOC is a comma-separated list:
 *   nth=N      fail exactly the Nth counted call after arming, then disarm
 *   every=N    fail about one counted call in N (a hash of the call number and
 *              the seed decides which), until the process ends
 *   seed=S     the seed for every= (default 1)
 *   after=MS   arm MS milliseconds after the process started (start-up runs
 *              untouched); without after= and ctl= it is armed at once
 *   ctl=PATH   arm on SIGUSR2: the handler reads a new list (nth=, every=,
 *              seed=) from PATH and counts from zero again
 *   from=NAME  count only the calls whose caller, or its caller, lies in a
 *              loaded object whose file name contains NAME (dladdr), e.g.
 *              from=libev
 *   trace=1    write a backtrace (backtrace_symbols_fd) after each failed call
 *   stats=PATH append "calls=N failed=N" to PATH when the process exits
 *
 * Every failed call writes "failalloc: event=failed call=N size=N" to stderr
 * and arming writes "failalloc: event=armed" (on SIGUSR2 with "call=N", the
 * calls counted since the previous arming); tests wait for these lines.
 *
 *   LD_PRELOAD=build/rel/failalloc.so KIOSKD_FAILALLOC=every=5000,after=500 \
 *     ./build/kioskd serve -c kioskd.ini
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

/* The armed plan; read by every allocating thread, changed by the signal
 * handler and the first call after after=. All through __atomic builtins. */
static unsigned long plan_nth, plan_every, plan_seed = 1;
static int armed;
static long arm_at_ns = -1; /* monotonic time to arm at, or -1 */
static unsigned long n_calls, n_failed;
static char ctl_path[512], stats_path[512];
static char from_name[64]; /* from=: only callers in an object of this name count */
static int trace; /* trace=1: a backtrace after each failed call */

static void say(const char *what, unsigned long a, unsigned long b)
{
    char line[128], num[24];
    size_t n = 0;
    const char *parts[] = {"failalloc: event=", what, NULL};
    for (int i = 0; parts[i]; i++)
        for (const char *s = parts[i]; *s && n < sizeof line - 48; s++)
            line[n++] = *s;
    unsigned long vals[2] = {a, b};
    const char *names[2] = {" call=", " size="};
    for (int v = 0; v < 2 && vals[v] != (unsigned long)-1; v++) {
        for (const char *s = names[v]; *s; s++)
            line[n++] = *s;
        size_t k = 0;
        unsigned long x = vals[v];
        do
            num[k++] = (char)('0' + x % 10);
        while ((x /= 10) && k < sizeof num);
        while (k)
            line[n++] = num[--k];
    }
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}

static unsigned long parse_num(const char *s, const char **end)
{
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9' && v < 1000000000000UL)
        v = v * 10 + (unsigned long)(*s++ - '0');
    *end = s;
    return v;
}

static void copy_path(char *dst, size_t cap, const char *s, const char **end)
{
    size_t n = 0;
    while (*s && *s != ',' && n + 1 < cap)
        dst[n++] = *s++;
    dst[n] = '\0';
    *end = s;
}

static long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Reads a list into the plan; async-signal-safe (no allocation, no stdio). */
static void parse_plan(const char *s, long *after_ms)
{
    unsigned long nth = 0, every = 0, seed = 1;
    from_name[0] = '\0';
    while (*s) {
        const char *e = s;
        if (strncmp(s, "nth=", 4) == 0)
            nth = parse_num(s + 4, &e);
        else if (strncmp(s, "every=", 6) == 0)
            every = parse_num(s + 6, &e);
        else if (strncmp(s, "seed=", 5) == 0)
            seed = parse_num(s + 5, &e);
        else if (strncmp(s, "from=", 5) == 0)
            copy_path(from_name, sizeof from_name, s + 5, &e);
        else if (after_ms && strncmp(s, "after=", 6) == 0)
            *after_ms = (long)parse_num(s + 6, &e);
        else if (after_ms && strncmp(s, "trace=", 6) == 0)
            trace = (int)parse_num(s + 6, &e);
        else if (after_ms && strncmp(s, "ctl=", 4) == 0)
            copy_path(ctl_path, sizeof ctl_path, s + 4, &e);
        else if (after_ms && strncmp(s, "stats=", 6) == 0)
            copy_path(stats_path, sizeof stats_path, s + 6, &e);
        while (*e && *e != ',')
            e++;
        s = *e ? e + 1 : e;
    }
    __atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&plan_nth, nth, __ATOMIC_RELAXED);
    __atomic_store_n(&plan_every, every, __ATOMIC_RELAXED);
    __atomic_store_n(&plan_seed, seed, __ATOMIC_RELAXED);
    __atomic_store_n(&n_calls, 0, __ATOMIC_RELAXED);
}

static void on_arm_signal(int sig)
{
    (void)sig;
    int saved = errno;
    unsigned long counted = __atomic_load_n(&n_calls, __ATOMIC_RELAXED);
    char buf[256];
    int fd = open(ctl_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n' || buf[i] == ' ')
                buf[i] = ',';
        parse_plan(buf, NULL);
        __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
        say("armed", counted, (unsigned long)-1);
    }
    errno = saved;
}

__attribute__((constructor)) static void failalloc_init(void)
{
    const char *spec = getenv("KIOSKD_FAILALLOC");
    if (!spec || !*spec)
        return;
    long after_ms = -1;
    parse_plan(spec, &after_ms);
    if (trace || from_name[0] || ctl_path[0]) {
        void *warm[2];
        backtrace(warm, 2); /* loads libgcc_s now, not inside a failing call */
    }
    if (ctl_path[0]) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_arm_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR2, &sa, NULL);
    } else if (after_ms >= 0) {
        __atomic_store_n(&arm_at_ns, mono_ns() + after_ms * 1000000L, __ATOMIC_SEQ_CST);
    } else {
        __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
    }
}

__attribute__((destructor)) static void failalloc_fini(void)
{
    if (!stats_path[0])
        return;
    int fd = open(stats_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    int saved = dup(2);
    dup2(fd, 2);
    say("stats", __atomic_load_n(&n_calls, __ATOMIC_RELAXED),
        __atomic_load_n(&n_failed, __ATOMIC_RELAXED));
    dup2(saved, 2);
    close(saved);
    close(fd);
}

static unsigned long mix(unsigned long x)
{
    x += 0x9e3779b97f4a7c15UL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9UL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebUL;
    return x ^ (x >> 31);
}

/* True when from= is unset or the allocation's caller, or the caller's caller,
 * lies in an object whose file name contains it (libev's table growth reaches
 * malloc through an allocator of kioskd's). Frames of this library are skipped. */
static bool caller_matches(void)
{
    if (!from_name[0])
        return true;
    void *frames[8];
    int n = backtrace(frames, 8);
    Dl_info self, info;
    if (!dladdr((void *)(uintptr_t)caller_matches, &self))
        return false;
    int seen = 0;
    for (int i = 0; i < n && seen < 2; i++) {
        if (!dladdr(frames[i], &info) || !info.dli_fname)
            return false;
        if (info.dli_fbase == self.dli_fbase)
            continue;
        if (strstr(info.dli_fname, from_name))
            return true;
        seen++;
    }
    return false;
}

/* Counts one allocation of n bytes; true when it is to fail. */
static bool should_fail(size_t n)
{
    if (!__atomic_load_n(&armed, __ATOMIC_RELAXED)) {
        long at = __atomic_load_n(&arm_at_ns, __ATOMIC_RELAXED);
        if (at < 0 || mono_ns() < at)
            return false;
        long expect = at;
        if (__atomic_compare_exchange_n(&arm_at_ns, &expect, -1L, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
            say("armed", (unsigned long)-1, 0);
        }
        return false;
    }
    if (!caller_matches())
        return false;
    unsigned long call = __atomic_add_fetch(&n_calls, 1, __ATOMIC_RELAXED);
    unsigned long nth = __atomic_load_n(&plan_nth, __ATOMIC_RELAXED);
    unsigned long every = __atomic_load_n(&plan_every, __ATOMIC_RELAXED);
    bool fail = false;
    if (nth && call == nth) {
        fail = true;
        __atomic_store_n(&plan_nth, 0, __ATOMIC_RELAXED); /* once; still counting */
    } else if (every) {
        fail = mix(call ^ (__atomic_load_n(&plan_seed, __ATOMIC_RELAXED) << 32)) % every == 0;
    }
    if (fail) {
        __atomic_add_fetch(&n_failed, 1, __ATOMIC_RELAXED);
        say("failed", call, n);
        if (trace) {
            void *frames[24];
            backtrace_symbols_fd(frames, backtrace(frames, 24), 2);
        }
        errno = ENOMEM;
    }
    return fail;
}

void *malloc(size_t n)
{
    return should_fail(n) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    return should_fail(n * size) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (p && n == 0)
        return __libc_realloc(p, n); /* a free */
    return should_fail(n) ? NULL : __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    return should_fail(n) ? NULL : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

void *valloc(size_t n)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
