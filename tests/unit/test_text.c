/* validate_text: short texts shown as typed (a decision's reason, a product's name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *check(const char *s, size_t min, size_t max)
{
    return validate_text(s, strlen(s), min, max);
}

static void test_text_good(void **state)
{
    (void)state;
    static const char *const good[] = {
        "资料齐全", "客户已提供资产证明 (2 份)", "a", "Ünïcödé ok", "emoji 👍 fine", "tab-free",
    };
    for (size_t i = 0; i < N(good); i++)
        assert_null(check(good[i], 1, 200));
    assert_null(check("", 0, 10)); /* empty is fine when min is 0 */
}

static void test_text_lengths_count_code_points(void **state)
{
    (void)state;
    char s[4 * 201 + 1] = "";
    size_t len = 0;
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(s + len, sizeof s - len, "长"); /* 3 bytes: 200 code points */
    assert_null(check(s, 1, 200));
    snprintf(s + len, sizeof s - len, "长");
    assert_string_equal(check(s, 1, 200), "is too long");
    assert_string_equal(check("", 1, 200), "must not be empty");
    assert_string_equal(check("ab", 3, 200), "is too short");
}

static void test_text_refused(void **state)
{
    (void)state;
    static const char *const control[] = {
        "a\nb",
        "a\tb",
        "\x1b[31m",
        "a\x7f",
        "a\xc2\x85",
        "bidi \xe2\x80\xae",
        "\xef\xbb\xbf"
        "bom",
        "ls \xe2\x80\xa8",
    };
    for (size_t i = 0; i < N(control); i++)
        assert_string_equal(check(control[i], 1, 200), "contains control characters");
    static const char *const not_utf8[] = {"\xff", "\xc0\xaf", "\xe5\x8f", "\xed\xa0\x80"};
    for (size_t i = 0; i < N(not_utf8); i++)
        assert_string_equal(check(not_utf8[i], 1, 200), "is not valid UTF-8");
    /* a NUL inside the given length (a JSON string with \u0000) */
    assert_string_equal(validate_text("a\0b", 3, 1, 200), "contains control characters");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_good),
        cmocka_unit_test(test_text_lengths_count_code_points),
        cmocka_unit_test(test_text_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
