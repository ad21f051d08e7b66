/* Customer tiers by AUM, and amounts of CNY as integer fen. Pure code. */
#ifndef KIOSKD_CORE_TIER_H
#define KIOSKD_CORE_TIER_H

#include <stdint.h>

/* The three lines between the four tiers, in fen (each line belongs to the
 * tier above it): 长尾 < potential <= 潜力 < midhigh <= 中高端 < private <= 财私. */
struct tier_lines {
    int64_t potential, midhigh, private_line;
};

/* The tier of an AUM in fen: "长尾", "潜力", "中高端" or "财私" (static text). */
const char *tier_of(const struct tier_lines *t, int64_t aum_fen);

/* Parses an amount of CNY ("1234", "1234.5", "1234.56"; no sign, no
 * exponent, no thousands separators, at most 2 decimals, at most 10^13 CNY)
 * into fen without floating point. Returns 0, or -1 with *why saying what is wrong. */
int cny_to_fen(const char *s, int64_t *fen, const char **why);

#endif
