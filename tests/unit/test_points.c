/* Points rules without data: China dates, expiry at the year's end, what new
 * business earns, coefficients, and the tier shown with its trial mark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/points.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-12-31T15:59:59Z is 23:59:59 on 31 December in China; a second later it is new year. */
#define NYE_CHINA_LAST 1798732799

static void test_china_dates_turn_at_china_midnight(void **state)
{
    (void)state;
    char d[DATE_LEN];
    points_china_date(NYE_CHINA_LAST, d);
    assert_string_equal(d, "2026-12-31");
    points_china_date(NYE_CHINA_LAST + 1, d);
    assert_string_equal(d, "2027-01-01");
    points_china_date(0, d);
    assert_string_equal(d, "1970-01-01");
    points_china_date(951782400 + 16 * 3600, d); /* 2000-02-29T16:00Z: 1 March in China */
    assert_string_equal(d, "2000-03-01");
}

static void test_points_expire_at_the_end_of_the_next_year(void **state)
{
    (void)state;
    char d[DATE_LEN];
    points_expires_on(NYE_CHINA_LAST, 1, d);
    assert_string_equal(d, "2027-12-31");
    points_expires_on(NYE_CHINA_LAST + 1, 1, d); /* earned on new year's day */
    assert_string_equal(d, "2028-12-31");
    points_expires_on(NYE_CHINA_LAST, 0, d);
    assert_string_equal(d, "2026-12-31");
    points_expires_on(NYE_CHINA_LAST + 1, 0, d);
    assert_string_equal(d, "2027-12-31");
}

static void test_date_add(void **state)
{
    (void)state;
    char d[DATE_LEN];
    assert_int_equal(points_date_add("2026-12-07", 90, d), 0);
    assert_string_equal(d, "2027-03-07");
    assert_int_equal(points_date_add("2028-02-28", 1, d), 0);
    assert_string_equal(d, "2028-02-29");
    assert_int_equal(points_date_add("2027-02-28", 1, d), 0);
    assert_string_equal(d, "2027-03-01");
    assert_int_equal(points_date_add("2026-13-01", 1, d), -1);
    assert_int_equal(points_date_add("2026-1-01", 1, d), -1);
    assert_int_equal(points_date_add("2026-01-01x", 1, d), -1);
}

static void test_new_business_points_round_down(void **state)
{
    (void)state;
    static const struct {
        int64_t fen, per_10k, coef, want;
    } cases[] = {
        {1000000, 10, 1000, 10},                       /* 10,000 CNY at 1.0 */
        {1000000, 10, 1500, 15},                       /* wealth at 1.5 */
        {999999, 10, 1000, 9},                         /* a fen short of 10,000 CNY */
        {5000000, 10, 500, 25},                        /* 50,000 CNY at 0.5 */
        {1, 10, 1000, 0},                              /* one fen */
        {0, 10, 1000, 0},                              /* nothing */
        {-100, 10, 1000, 0},                           /* never negative */
        {1000000, 0, 1000, 0},                         /* per_10k 0 turns it off */
        {1000000000000000, 100000, 100000, INT32_MAX}, /* capped, never overflowing */
    };
    for (size_t i = 0; i < N(cases); i++)
        assert_int_equal(points_for_amount(cases[i].fen, cases[i].per_10k, cases[i].coef),
                         cases[i].want);
}

static void test_coefficients(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t want; /* -1: refused */
    } cases[] = {
        {"1", 1000},  {"0.5", 500},      {"1.25", 1250},  {"0", 0},     {"100", 100000},
        {"0.001", 1}, {"100.0", 100000}, {"100.001", -1}, {"1000", -1}, {"1.2345", -1},
        {"", -1},     {".5", -1},        {"1.", -1},      {"-1", -1},   {"1e3", -1},
        {" 1", -1},   {"1,5", -1},
    };
    for (size_t i = 0; i < N(cases); i++) {
        int64_t m = -7;
        const char *why = NULL;
        int rc = points_parse_coef(cases[i].s, &m, &why);
        if (cases[i].want < 0) {
            assert_int_equal(rc, -1);
            assert_non_null(why);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(m, cases[i].want);
        }
    }
}

static void test_tier_shown_with_its_trial(void **state)
{
    (void)state;
    char out[96];
    assert_string_equal(
        points_tier_shown("潜力", "中高端", "2027-03-02", "2026-12-07", out, sizeof out),
        "中高端（体验期至 3月2日）");
    /* the last day of the trial still shows it; the day after, it has lapsed */
    assert_string_equal(
        points_tier_shown("潜力", "中高端", "2027-03-02", "2027-03-02", out, sizeof out),
        "中高端（体验期至 3月2日）");
    assert_string_equal(
        points_tier_shown("潜力", "中高端", "2027-03-02", "2027-03-03", out, sizeof out), "潜力");
    /* no trial, or a real tier at or above the trial's */
    assert_string_equal(points_tier_shown("潜力", "", "", "2026-12-07", out, sizeof out), "潜力");
    assert_string_equal(points_tier_shown("潜力", NULL, NULL, "2026-12-07", out, sizeof out),
                        "潜力");
    assert_string_equal(
        points_tier_shown("中高端", "中高端", "2027-03-02", "2026-12-07", out, sizeof out),
        "中高端");
    assert_int_equal(points_tier_rank("长尾"), 0);
    assert_int_equal(points_tier_rank("财私"), 3);
    assert_int_equal(points_tier_rank("gold"), -1);
    assert_int_equal(points_tier_rank(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_china_dates_turn_at_china_midnight),
        cmocka_unit_test(test_points_expire_at_the_end_of_the_next_year),
        cmocka_unit_test(test_date_add),
        cmocka_unit_test(test_new_business_points_round_down),
        cmocka_unit_test(test_coefficients),
        cmocka_unit_test(test_tier_shown_with_its_trial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
