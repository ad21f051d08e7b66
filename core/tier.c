#include "core/tier.h"

#include <stddef.h>

const char *tier_of(const struct tier_lines *t, int64_t aum_fen)
{
    if (aum_fen >= t->private_line)
        return "财私";
    if (aum_fen >= t->midhigh)
        return "中高端";
    if (aum_fen >= t->potential)
        return "潜力";
    return "长尾";
}

#define CNY_MAX_DIGITS 13 /* 10^13 CNY is 10^15 fen: far inside int64_t */

int cny_to_fen(const char *s, int64_t *fen, const char **why)
{
    int64_t v = 0;
    int whole = 0, frac = 0;
    const char *p = s;
    *why = NULL;
    for (; *p >= '0' && *p <= '9'; p++, whole++) {
        if (whole == CNY_MAX_DIGITS) {
            *why = "is too large";
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    if (whole == 0) {
        *why = "must be an amount of CNY such as 52000 or 52000.50";
        return -1;
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, frac++) {
            if (frac == 2) {
                *why = "has more than 2 decimals";
                return -1;
            }
            v = v * 10 + (*p - '0');
        }
        if (frac == 0) {
            *why = "must be an amount of CNY such as 52000 or 52000.50";
            return -1;
        }
    }
    if (*p != '\0') {
        *why = "must be an amount of CNY such as 52000 or 52000.50";
        return -1;
    }
    for (; frac < 2; frac++)
        v *= 10;
    *fen = v;
    return 0;
}
