/*
 * Points rules that need no data: China dates, when a lot of points expires,
 * what new business earns, and how a tier is shown with its trial mark.
 * Pure code; the ledger itself is store/ledger.c.
 */
#ifndef KIOSKD_CORE_POINTS_H
#define KIOSKD_CORE_POINTS_H

#include <stddef.h>
#include <stdint.h>

#define DATE_LEN 11 /* "YYYY-MM-DD" and its NUL */

/* Writes the China date (UTC+08:00) of unix time t as YYYY-MM-DD into out. */
void points_china_date(int64_t t, char out[DATE_LEN]);
/* The last day (China) on which points earned at unix time t may be spent:
 * the end of the calendar year `years` after the year they were earned in
 * (0: the end of the same year). */
void points_expires_on(int64_t t, int years, char out[DATE_LEN]);
/* The China date `days` days after date (YYYY-MM-DD) into out; -1 when date
 * is not a date, else 0. */
int points_date_add(const char *date, int64_t days, char out[DATE_LEN]);
/* Points that amount_fen of new business earns: per_10k points per 10,000
 * CNY times the coefficient in thousandths, rounded down; never negative,
 * capped at INT32_MAX. */
int64_t points_for_amount(int64_t amount_fen, int64_t per_10k, int64_t coef_milli);
/* Parses a coefficient such as "1", "0.5" or "1.25" (at most 3 decimals, at
 * most 100) into thousandths. Returns 0, or -1 with *why set. */
int points_parse_coef(const char *s, int64_t *milli, const char **why);
/* Writes how a tier is shown: tier itself, or while a trial runs (trial_until
 * >= today, both YYYY-MM-DD) the trial tier with its end, e.g.
 * "中高端（体验期至 3月2日）". trial_tier and trial_until may be NULL or "".
 * Returns out. */
char *points_tier_shown(const char *tier, const char *trial_tier, const char *trial_until,
                        const char *today, char *out, size_t n);
/* The rank of a tier name: 长尾 0, 潜力 1, 中高端 2, 财私 3; -1 for another text. */
int points_tier_rank(const char *tier);

#endif
