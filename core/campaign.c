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

int campaign_tier_rank(const char *tier)
{
    static const char *const order[] = {"财私", "中高端", "潜力", "长尾"};
    for (int i = 0; i < 4; i++)
        if (strcmp(tier, order[i]) == 0)
            return i;
    return 4;
}
