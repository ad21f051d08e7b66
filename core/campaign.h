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

#endif
