/* Campaign steps' times at their edges, invitation codes, the next tier's line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/campaign.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_at_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } good[] = {
        {"-30d", -30 * 86400},
        {"-14d", -14 * 86400},
        {"-36h", -36 * 3600},
        {"-90m", -90 * 60},
        {"-0h", 0},
        {"-366d", -366 * 86400},
        {"-1m", -60},
    };
    for (size_t i = 0; i < N(good); i++) {
        int64_t off = 1;
        const char *why = NULL;
        assert_int_equal(campaign_at_parse(good[i].in, &off, &why), 0);
        assert_int_equal(off, good[i].want);
        assert_null(why);
    }
    static const char *const bad[] = {"",     "-",     "30d",   "+30d",      "-30",       "-30x",
                                      "-d",   "-30dd", "-3 0d", "-367d",     "-1000000m", "-30D",
                                      "- 1d", "-1.5d", "-0x1d", "-99999999d"};
    for (size_t i = 0; i < N(bad); i++) {
        int64_t off = 7;
        const char *why = NULL;
        assert_int_equal(campaign_at_parse(bad[i], &off, &why), -1);
        assert_non_null(why);
        assert_int_equal(off, 7);
    }
}

static void test_codes(void **state)
{
    (void)state;
    unsigned char rnd[CAMPAIGN_CODE_LEN] = {0, 30, 31, 255, 128, 7};
    char code[CAMPAIGN_CODE_LEN + 1];
    campaign_code_from(rnd, code);
    assert_int_equal(strlen(code), CAMPAIGN_CODE_LEN);
    assert_true(campaign_code_ok(code));
    assert_null(strpbrk(code, "01OIL"));
    assert_false(campaign_code_ok("ABCDE"));
    assert_false(campaign_code_ok("ABCDEF0"));
    assert_false(campaign_code_ok("ABCDE0"));
    assert_false(campaign_code_ok("abcdef"));
    assert_false(campaign_code_ok(NULL));
}

static void test_next_line(void **state)
{
    (void)state;
    struct tier_lines t = {.potential = 5000000, .midhigh = 20000000, .private_line = 600000000};
    assert_int_equal(campaign_next_line(&t, 0), 5000000);
    assert_int_equal(campaign_next_line(&t, 4999999), 5000000);
    assert_int_equal(campaign_next_line(&t, 5000000), 20000000);
    assert_int_equal(campaign_next_line(&t, 599999999), 600000000);
    assert_int_equal(campaign_next_line(&t, 600000000), -1);
    assert_int_equal(campaign_tier_rank("财私"), 0);
    assert_int_equal(campaign_tier_rank("长尾"), 3);
    assert_int_equal(campaign_tier_rank("?"), 4);
}

static void test_festivals(void **state)
{
    (void)state;
    unsigned all = 0, some = 0;
    const char *bad = NULL;
    assert_int_equal(campaign_festivals_parse("春节 元宵 端午 中秋 重阳", &all, &bad), 0);
    assert_int_equal(all, 0x1f);
    assert_int_equal(campaign_festivals_parse(" 中秋,春节 ", &some, &bad), 0);
    assert_int_equal(some, 0x9);
    assert_int_equal(campaign_festivals_parse("", &some, &bad), 0);
    assert_int_equal(some, 0);
    assert_int_equal(campaign_festivals_parse("春节 圣诞", &some, &bad), -1);
    assert_string_equal(bad, "圣诞");
    assert_int_equal(campaign_festivals_parse("春节春节", &some, &bad), -1);
    assert_int_equal(campaign_festival_on("2026-02-17", all), 0);
    assert_string_equal(campaign_festival_name(0), "春节");
    assert_int_equal(campaign_festival_on("2027-02-20", all), 1);
    assert_int_equal(campaign_festival_on("2028-05-28", all), 2);
    assert_int_equal(campaign_festival_on("2028-10-03", all), 3);
    assert_int_equal(campaign_festival_on("2030-10-05", all), 4);
    assert_int_equal(campaign_festival_on("2028-10-03", 0x1), -1); /* 中秋 not chosen */
    assert_int_equal(campaign_festival_on("2026-02-18", all), -1);
    assert_int_equal(campaign_festival_on("2031-01-23", all), -1); /* past the table */
    assert_null(campaign_festival_name(5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_at_parse),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_next_line),
        cmocka_unit_test(test_festivals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
