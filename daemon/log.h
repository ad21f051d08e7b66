/*
 * Logging: one line per event, `key=value` pairs, on stderr or [log] file.
 * Never pass a phone number, name, openid or token to these functions; mask
 * first (core/mask.h). Safe to call from any thread: each line is one write(2),
 * together with the lines held before it (log_kv_held), so the log keeps its order.
 * The logger is the one process-wide state outside struct kioskd, because
 * every layer and thread may log.
 */
#ifndef KIOSKD_LOG_H
#define KIOSKD_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Directs logging to file (NULL or "": stderr) at the given level name.
 * Returns 0 or KIOSKD_EIO / KIOSKD_EINVAL. */
int log_open(const char *file, const char *level);
/* Reopens the log file (after rotation); a no-op for stderr. */
int log_reopen(void);
/* Closes the log file, if any. */
void log_close(void);
/* Writes `ts=... level=... event=<event> <fmt...>`; fmt holds the other pairs. */
void log_kv(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same line, held in memory until log_flush, the next log_kv or a full
 * buffer (16 KiB): for the loop's one line per request, which would otherwise
 * cost a write(2) each. The loop flushes after every service pass. */
void log_kv_held(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the held lines now (also done by log_reopen and log_close). */
void log_flush(void);
/* Copies s into out (size n) with spaces, quotes, '=', control and non-ASCII
 * bytes written as %XX, so that it is one safe log value. Returns out. */
char *log_escape(char *out, size_t n, const char *s);

#define log_info(ev, ...) log_kv(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_kv(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_kv(LOG_ERROR, ev, __VA_ARGS__)

#endif
