/* key=value line logger. */
#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

#define LOG_LINE_MAX 1024
#define LOG_HELD_MAX 16384 /* lines held for log_flush; past this they are written at once */

static struct {
    int fd;
    enum log_level level;
    char *path;
    pthread_mutex_t mu; /* guards fd and held against a concurrent reopen or flush */
    size_t held_len;
    char held[LOG_HELD_MAX]; /* log_kv_held lines not written yet, in order */
} lg = {2, LOG_INFO, NULL, PTHREAD_MUTEX_INITIALIZER, 0, {0}};

static const char *level_names[] = {"debug", "info", "warn", "error"};

static void write_held(void);

int log_open(const char *file, const char *level)
{
    enum log_level lv = LOG_INFO;
    bool found = false;
    for (int i = 0; i < 4 && level; i++) {
        if (strcmp(level, level_names[i]) == 0) {
            lv = (enum log_level)i;
            found = true;
        }
    }
    if (level && !found)
        return KIOSKD_EINVAL;
    lg.level = lv;
    if (!file || !*file)
        return 0;
    char *p = strdup(file);
    if (!p)
        return KIOSKD_ENOMEM;
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(p);
        return KIOSKD_EIO;
    }
    pthread_mutex_lock(&lg.mu);
    write_held();
    if (lg.fd > 2)
        close(lg.fd);
    lg.fd = fd;
    free(lg.path);
    lg.path = p;
    pthread_mutex_unlock(&lg.mu);
    return 0;
}

int log_reopen(void)
{
    if (!lg.path)
        return 0;
    int fd = open(lg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return KIOSKD_EIO;
    pthread_mutex_lock(&lg.mu);
    write_held();
    close(lg.fd);
    lg.fd = fd;
    pthread_mutex_unlock(&lg.mu);
    return 0;
}

void log_close(void)
{
    pthread_mutex_lock(&lg.mu);
    write_held();
    if (lg.fd > 2)
        close(lg.fd);
    lg.fd = 2;
    free(lg.path);
    lg.path = NULL;
    pthread_mutex_unlock(&lg.mu);
}

/* Formats one line (newline included) into line[LOG_LINE_MAX]; returns its length. */
static size_t format_line(char *line, enum log_level level, const char *event, const char *fmt,
                          va_list ap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, LOG_LINE_MAX, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_names[level], event);
    if (n < 0)
        return 0;
    size_t len = (size_t)n;
    if (fmt && *fmt && len < LOG_LINE_MAX - 2) {
        line[len++] = ' ';
        int m = vsnprintf(line + len, LOG_LINE_MAX - len, fmt, ap);
        if (m > 0)
            len += (size_t)m;
    }
    if (len > LOG_LINE_MAX - 2)
        len = LOG_LINE_MAX - 2;
    line[len++] = '\n';
    return len;
}

/* Writes the held lines, then line[0..len) if any, in one writev. Holds lg.mu. */
static void write_held_and(const char *line, size_t len)
{
    struct iovec iov[2];
    int n = 0;
    if (lg.held_len)
        iov[n++] = (struct iovec){.iov_base = lg.held, .iov_len = lg.held_len};
    if (len)
        iov[n++] = (struct iovec){.iov_base = (void *)(uintptr_t)line, .iov_len = len};
    if (n) {
        ssize_t w = writev(lg.fd, iov, n);
        (void)w;
    }
    lg.held_len = 0;
}

static void write_held(void)
{
    write_held_and(NULL, 0);
}

/* One line, written at once (after the held ones) or held for log_flush. */
static void log_line(enum log_level level, bool held, const char *event, const char *fmt,
                     va_list ap)
{
    if (level < lg.level)
        return;
    char line[LOG_LINE_MAX];
    size_t len = format_line(line, level, event, fmt, ap);
    if (!len)
        return;
    pthread_mutex_lock(&lg.mu);
    if (!held || lg.held_len + len > sizeof lg.held) {
        write_held_and(line, len); /* held lines first: the log stays in order */
    } else {
        memcpy(lg.held + lg.held_len, line, len);
        lg.held_len += len;
    }
    pthread_mutex_unlock(&lg.mu);
}

void log_kv(enum log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, false, event, fmt, ap);
    va_end(ap);
}

void log_kv_held(enum log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, true, event, fmt, ap);
    va_end(ap);
}

void log_flush(void)
{
    pthread_mutex_lock(&lg.mu);
    write_held();
    pthread_mutex_unlock(&lg.mu);
}

char *log_escape(char *out, size_t n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    if (n == 0)
        return out;
    for (; *s && j + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '=' && ch != '%' && ch != '\\') {
            out[j++] = (char)ch;
        } else {
            out[j++] = '%';
            out[j++] = hex[ch >> 4];
            out[j++] = hex[ch & 15];
        }
    }
    out[j] = '\0';
    return out;
}
