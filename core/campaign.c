/* Campaigns' pure parts (core/campaign.h). */
#include "core/campaign.h"

#include <string.h>

static const char CODE_ALPHABET[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"; /* 31 characters */

int campaign_at_parse(const char *s, int64_t *offset, const char **why)
{
    *why = "must be a time before the event such as -30d, -36h or -90m";
    if (!s || s[0] != '-')
        return -1;
    int64_t n = 0;
    int digits = 0;
    const char *p = s + 1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 6)
            return -1;
        n = n * 10 + (*p - '0');
    }
    if (digits == 0 || p[0] == '\0' || p[1] != '\0')
        return -1;
    int64_t unit = p[0] == 'd' ? 86400 : p[0] == 'h' ? 3600 : p[0] == 'm' ? 60 : 0;
    if (unit == 0)
        return -1;
    if (n * unit > CAMPAIGN_AT_LIMIT) {
        *why = "is more than a year before the event";
        return -1;
    }
    *offset = -n * unit;
    *why = NULL;
    return 0;
}

void campaign_code_from(const unsigned char rnd[CAMPAIGN_CODE_LEN], char *out)
{
    for (int i = 0; i < CAMPAIGN_CODE_LEN; i++)
        out[i] = CODE_ALPHABET[rnd[i] % (sizeof CODE_ALPHABET - 1)];
    out[CAMPAIGN_CODE_LEN] = '\0';
}

bool campaign_code_ok(const char *s)
{
    return s && strlen(s) == CAMPAIGN_CODE_LEN && strspn(s, CODE_ALPHABET) == CAMPAIGN_CODE_LEN;
}

int64_t campaign_next_line(const struct tier_lines *t, int64_t aum_fen)
{
    if (aum_fen < t->potential)
        return t->potential;
    if (aum_fen < t->midhigh)
        return t->midhigh;
    if (aum_fen < t->private_line)
        return t->private_line;
    return -1;
}

static const char *const FESTIVAL_NAMES[CAMPAIGN_FESTIVALS] = {"春节", "元宵", "端午", "中秋",
                                                               "重阳"};
/* Their Gregorian dates, by festival then year from 2026 (from the Chinese calendar:
 * 正月初一, 正月十五, 五月初五, 八月十五, 九月初九). */
#define FESTIVAL_YEARS 5
static const char FESTIVAL_DATES[CAMPAIGN_FESTIVALS][FESTIVAL_YEARS][11] = {
    {"2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03"},
    {"2026-03-03", "2027-02-20", "2028-02-09", "2029-02-27", "2030-02-17"},
    {"2026-06-19", "2027-06-09", "2028-05-28", "2029-06-16", "2030-06-05"},
    {"2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12"},
    {"2026-10-18", "2027-10-08", "2028-10-26", "2029-10-16", "2030-10-05"},
};

const char *campaign_festival_name(int i)
{
    return i >= 0 && i < CAMPAIGN_FESTIVALS ? FESTIVAL_NAMES[i] : NULL;
}

int campaign_festivals_parse(const char *s, unsigned *mask, const char **bad)
{
    *mask = 0;
    *bad = NULL;
    while (*s) {
        size_t skip = strspn(s, " ,");
        s += skip;
        size_t n = strcspn(s, " ,");
        if (n == 0)
            break;
        int i = 0;
        while (i < CAMPAIGN_FESTIVALS &&
               !(strlen(FESTIVAL_NAMES[i]) == n && memcmp(FESTIVAL_NAMES[i], s, n) == 0))
            i++;
        if (i == CAMPAIGN_FESTIVALS) {
            *bad = s;
            return -1;
        }
        *mask |= 1u << i;
        s += n;
    }
    return 0;
}

int campaign_festival_on(const char *date, unsigned mask)
{
    for (int i = 0; i < CAMPAIGN_FESTIVALS; i++)
        for (int y = 0; y < FESTIVAL_YEARS && (mask & (1u << i)); y++)
            if (strcmp(date, FESTIVAL_DATES[i][y]) == 0)
                return i;
    return -1;
}

int campaign_tier_rank(const char *tier)
{
    static const char *const order[] = {"财私", "中高端", "潜力", "长尾"};
    for (int i = 0; i < 4; i++)
        if (strcmp(tier, order[i]) == 0)
            return i;
    return 4;
}
