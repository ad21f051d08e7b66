#include "core/points.h"

#include <stdio.h>
#include <string.h>

#include "core/timefmt.h"

/* Civil date of days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void write_date(int64_t y, unsigned m, unsigned d, char out[DATE_LEN])
{
    if (y < 1000 || y > 9999)
        y = y < 1000 ? 1000 : 9999; /* the schema's GLOB wants four digits */
    snprintf(out, DATE_LEN, "%04d-%02u-%02u", (int)y, m, d);
}

void points_china_date(int64_t t, char out[DATE_LEN])
{
    int64_t y;
    unsigned m, d;
    civil_from_days(floor_div(t + TIME_CHINA_OFFSET, 86400), &y, &m, &d);
    write_date(y, m, d, out);
}

void points_expires_on(int64_t t, int years, char out[DATE_LEN])
{
    int64_t y;
    unsigned m, d;
    civil_from_days(floor_div(t + TIME_CHINA_OFFSET, 86400), &y, &m, &d);
    write_date(y + years, 12, 31, out);
}

int points_date_add(const char *date, int64_t days, char out[DATE_LEN])
{
    unsigned y, m, d;
    char end;
    if (strlen(date) != 10 || sscanf(date, "%4u-%2u-%2u%c", &y, &m, &d, &end) != 3 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    int64_t yy;
    civil_from_days(time_days_from_civil(y, m, d) + days, &yy, &m, &d);
    write_date(yy, m, d, out);
    return 0;
}

int64_t points_for_amount(int64_t amount_fen, int64_t per_10k, int64_t coef_milli)
{
    if (amount_fen <= 0 || per_10k <= 0 || coef_milli <= 0)
        return 0;
    /* 10,000 CNY is 10^6 fen; the coefficient is in thousandths */
    unsigned __int128 p = (unsigned __int128)amount_fen * (unsigned __int128)per_10k *
                          (unsigned __int128)coef_milli / 1000000000u;
    return p > INT32_MAX ? INT32_MAX : (int64_t)p;
}

int points_parse_coef(const char *s, int64_t *milli, const char **why)
{
    int64_t v = 0;
    int whole = 0, frac = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++, whole++) {
        if (whole == 3) {
            *why = "must be at most 100";
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    if (whole == 0) {
        *why = "must be a number such as 1, 0.5 or 1.25";
        return -1;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, frac++) {
            if (frac == 3) {
                *why = "has more than 3 decimals";
                return -1;
            }
            v = v * 10 + (*p - '0');
        }
        if (frac == 0) {
            *why = "must be a number such as 1, 0.5 or 1.25";
            return -1;
        }
    }
    if (*p) {
        *why = "must be a number such as 1, 0.5 or 1.25";
        return -1;
    }
    for (; frac < 3; frac++)
        v *= 10;
    if (v > 100000) {
        *why = "must be at most 100";
        return -1;
    }
    *milli = v;
    return 0;
}

int points_tier_rank(const char *tier)
{
    static const char *const names[] = {"长尾", "潜力", "中高端", "财私"};
    for (int i = 0; i < 4; i++)
        if (tier && strcmp(tier, names[i]) == 0)
            return i;
    return -1;
}

char *points_tier_shown(const char *tier, const char *trial_tier, const char *trial_until,
                        const char *today, char *out, size_t n)
{
    unsigned y, m, d;
    if (trial_tier && trial_tier[0] && trial_until && strcmp(trial_until, today) >= 0 &&
        points_tier_rank(trial_tier) > points_tier_rank(tier) &&
        sscanf(trial_until, "%4u-%2u-%2u", &y, &m, &d) == 3)
        snprintf(out, n, "%s（体验期至 %u月%u日）", trial_tier, m, d);
    else
        snprintf(out, n, "%s", tier);
    return out;
}
