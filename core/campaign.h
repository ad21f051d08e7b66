/*
 * Campaigns' pure parts: a step's time relative to its event ("-30d"), the
 * invitation code's alphabet, and where a member's AUM stands against the
 * next tier's line. No I/O.
 */
#ifndef KIOSKD_CORE_CAMPAIGN_H
#define KIOSKD_CORE_CAMPAIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/tier.h"

#define CAMPAIGN_CODE_LEN 6
#define CAMPAIGN_AT_MAX 15              /* characters of a step's "at" */
#define CAMPAIGN_AT_LIMIT (366 * 86400) /* the earliest step: a year before */

/* Parses a step's time: '-', 1 to 6 digits and a unit d (days), h (hours) or
 * m (minutes), at most a year ("-30d", "-36h", "-90m"). Sets *offset to the
 * (negative) seconds from the event's start. 0, or -1 with *why set. */
int campaign_at_parse(const char *s, int64_t *offset, const char **why);

/* A code of CAMPAIGN_CODE_LEN characters from an alphabet without look-alikes
 * (no 0/O, 1/I/L), drawn from the bytes of rnd, into out (len + 1 bytes). */
void campaign_code_from(const unsigned char rnd[CAMPAIGN_CODE_LEN], char *out);
/* True when s is such a code. */
bool campaign_code_ok(const char *s);

/* The line of the tier above aum_fen (fen), or -1 for the top tier. */
int64_t campaign_next_line(const struct tier_lines *t, int64_t aum_fen);
/* The order of a tier for call lists: 财私 0, 中高端 1, 潜力 2, 长尾 3, other 4. */
int campaign_tier_rank(const char *tier);

/* The festivals kioskd greets members on ([campaigns] festivals), with their
 * China dates for 2026-2030 shipped in core/campaign.c: 春节, 元宵, 端午, 中秋, 重阳. */
#define CAMPAIGN_FESTIVALS 5
/* The name of festival i (0 to CAMPAIGN_FESTIVALS - 1), or NULL. */
const char *campaign_festival_name(int i);
/* Parses names separated by spaces or commas into *mask (bit i: festival i);
 * "" is none. 0, or -1 with *bad pointing at the unknown name. */
int campaign_festivals_parse(const char *s, unsigned *mask, const char **bad);
/* The festival (index) falling on date (YYYY-MM-DD) among those in mask, or -1. */
int campaign_festival_on(const char *date, unsigned mask);

#endif
