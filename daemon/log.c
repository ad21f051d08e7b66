/* key=value line logger. */
#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

static struct {
    int fd;
    enum log_level level;
    char *path;
    pthread_mutex_t mu; /* guards fd against a concurrent reopen */
} lg = {2, LOG_INFO, NULL, PTHREAD_MUTEX_INITIALIZER};

static const char *level_names[] = {"debug", "info", "warn", "error"};

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
    close(lg.fd);
    lg.fd = fd;
    pthread_mutex_unlock(&lg.mu);
    return 0;
}

void log_close(void)
{
    pthread_mutex_lock(&lg.mu);
    if (lg.fd > 2)
        close(lg.fd);
    lg.fd = 2;
    free(lg.path);
    lg.path = NULL;
    pthread_mutex_unlock(&lg.mu);
}

void log_kv(enum log_level level, const char *event, const char *fmt, ...)
{
    if (level < lg.level)
        return;
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_names[level], event);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    if (fmt && *fmt && len < sizeof line - 2) {
        line[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
        va_end(ap);
        if (m > 0)
            len += (size_t)m;
    }
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    pthread_mutex_lock(&lg.mu);
    ssize_t w = write(lg.fd, line, len);
    pthread_mutex_unlock(&lg.mu);
    (void)w;
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
