/*
 * RFC 3339 times. kioskd stores UTC (unix seconds or microseconds) and shows
 * China time (Asia/Shanghai, UTC+08:00 all year, no daylight saving since 1991).
 */
#ifndef KIOSKD_TIMEFMT_H
#define KIOSKD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIME_CHINA_OFFSET (8 * 3600)

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (a space may stand for
 * 'T') into unix seconds. Returns 0 or KIOSKD_EINVAL. */
int time_parse_rfc3339(const char *s, int64_t *out);
/* Writes t (unix seconds) as China time, e.g. 2026-12-01T14:00:00+08:00; out
 * needs 26 bytes. Returns out. */
char *time_format_china(int64_t t, char *out, size_t n);
/* Writes t (unix seconds) as a short China-time phrase for messages, e.g.
 * "11月23日 周一 14:30"; out needs 32 bytes. Returns out. */
char *time_format_china_short(int64_t t, char *out, size_t n);
/* Writes the China date of t (unix seconds), e.g. 2026-11-23; out needs 11 bytes. */
char *time_format_china_date(int64_t t, char *out, size_t n);
/* Writes t (unix µs) as UTC with milliseconds, e.g. 2026-12-01T06:00:00.123Z. */
char *time_format_utc_us(int64_t t_us, char *out, size_t n);
/* Days since 1970-01-01 for a civil date (proleptic Gregorian). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
