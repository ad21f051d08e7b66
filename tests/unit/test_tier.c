/* Tiers at and around each line; CNY amounts to fen without floating point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/tier.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct tier_lines lines = {
    .potential = 5000000, .midhigh = 20000000, .private_line = 600000000};

static void test_tier_lines(void **state)
{
    (void)state;
    static const struct {
        int64_t fen;
        const char *want;
    } cases[] = {
        {0, "长尾"},         {4999999, "长尾"},    {5000000, "潜力"},    {5000001, "潜力"},
        {19999999, "潜力"},  {20000000, "中高端"}, {20000001, "中高端"}, {599999999, "中高端"},
        {600000000, "财私"}, {600000001, "财私"},  {INT64_MAX, "财私"},
    };
    for (size_t i = 0; i < N(cases); i++)
        assert_string_equal(tier_of(&lines, cases[i].fen), cases[i].want);
}

static void test_tier_lines_configured(void **state)
{
    (void)state;
    struct tier_lines t = {.potential = 100, .midhigh = 100, .private_line = 200};
    assert_string_equal(tier_of(&t, 99), "长尾");
    assert_string_equal(tier_of(&t, 100), "中高端"); /* equal lines: no 潜力 at all */
    assert_string_equal(tier_of(&t, 199), "中高端");
    assert_string_equal(tier_of(&t, 200), "财私");
}

static void test_cny_to_fen(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } good[] = {
        {"0", 0},
        {"1", 100},
        {"50000", 5000000},
        {"49999.99", 4999999},
        {"50000.5", 5000050},
        {"50000.05", 5000005},
        {"0.01", 1},
        {"007", 700},
        {"9999999999999.99", 999999999999999},
    };
    for (size_t i = 0; i < N(good); i++) {
        int64_t fen = -1;
        const char *why = "unset";
        assert_int_equal(cny_to_fen(good[i].in, &fen, &why), 0);
        assert_int_equal(fen, good[i].want);
        assert_null(why);
    }
    static const char *const bad[] = {
        "",     "-1", "+1", "1.",  ".5",    "1.234",          "1,000",
        "1e5",  " 1", "1 ", "abc", "1.2.3", "12345678901234", "0x10",
        "１２",
    };
    for (size_t i = 0; i < N(bad); i++) {
        int64_t fen = 42;
        const char *why = NULL;
        assert_int_equal(cny_to_fen(bad[i], &fen, &why), -1);
        assert_non_null(why);
        assert_int_equal(fen, 42);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tier_lines),
        cmocka_unit_test(test_tier_lines_configured),
        cmocka_unit_test(test_cny_to_fen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
