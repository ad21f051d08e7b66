/* Masking phones and names; validating mobiles, names and UTF-8. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mask.h"
#include "core/status.h"
#include "core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct pair {
    const char *in, *want;
};

static void test_mask_phone(void **state)
{
    (void)state;
    static const struct pair cases[] = {
        {"13812345678", "138****5678"},
        {"13800001234", "138****1234"},
        {"12812345678", "128****5678"}, /* 11 digits, not a mobile: same shape */
        {"1381234567", "********67"},
        {"138123456789", "**********89"},
        {"+8613812345678", "************78"},
        {"1381234567a", "***********"}, /* last two are not both digits */
        {"010-12345678", "**********78"},
        {"12345", "***45"},
        {"1234", "****"}, /* too short to show any of it */
        {"12", "**"},
        {"7", "*"},
        {"", ""},
        {"电话12345", "*****45"}, /* one star per character */
        {"\377\3761234", "****34"},
        {"123\n45678", "*******78"},
        {"13812345678\n", "************"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[64];
        memset(out, 'X', sizeof out);
        mask_phone(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    char out[8] = "X";
    mask_phone(NULL, out, sizeof out);
    assert_string_equal(out, "");
    mask_phone("13812345678", out, sizeof out); /* cut short: hides more */
    assert_string_equal(out, "138****");
    mask_phone("13812345678", out, 1);
    assert_string_equal(out, "");
    mask_phone("13812345678", NULL, 0);
}

static void test_mask_name(void **state)
{
    (void)state;
    static const struct pair cases[] = {
        {"张三丰", "张*"},
        {"张三", "张*"},
        {"张", "*"},
        {"Li Lei", "L*"},
        {"L", "*"},
        {"  王小明  ", "王*"},
        {"\xe3\x80\x80李四\xe3\x80\x80", "李*"}, /* U+3000 around it */
        {"张 ", "*"},
        {"𠀀𠀁", "𠀀*"}, /* four-byte code points */
        {"é", "*"},
        {"éa", "é*"},
        {"", ""},
        {"   ", ""},
        {"\xff张三", "*"},
        {"张\xe4\xb8", "*"},       /* truncated */
        {"\xc0\xaf\xc0\xaf", "*"}, /* overlong */
        {"\xed\xa0\x80x", "*"},    /* surrogate */
        {"\x1b[31mred", "*"},      /* starts with a control */
        {"\342\200\256evil", "*"}, /* starts with RIGHT-TO-LEFT OVERRIDE */
        {"a\nb", "a*"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[MASK_NAME_BUF];
        memset(out, 'X', sizeof out);
        mask_name(cases[i].in, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    char out[4] = "X";
    mask_name(NULL, out, sizeof out);
    assert_string_equal(out, "");
    mask_name("张三", out, sizeof out); /* no room for 张*: never half a character */
    assert_string_equal(out, "*");
    mask_name("Li", out, 2);
    assert_string_equal(out, "*");
    mask_name("Li", out, 1);
    assert_string_equal(out, "");
}

static void test_validate_mobile(void **state)
{
    (void)state;
    static const char *good[] = {"13812345678", "19912345678", "14000000000", "15900000000"};
    static const char *bad[] = {
        "12812345678",   "10812345678",
        "23812345678",   "1381234567",
        "138123456789",  "+8613812345678",
        "1381234567a",   "",
        " 13812345678",  "13812345678 ",
        "138 1234 5678", "１３８１２３４５６７８", /* fullwidth digits */
    };
    for (size_t i = 0; i < N(good); i++)
        assert_true(validate_mobile(good[i]));
    for (size_t i = 0; i < N(bad); i++)
        assert_false(validate_mobile(bad[i]));
    assert_false(validate_mobile(NULL));
}

struct name_case {
    const char *in;
    const char *want; /* trimmed name, or NULL when refused */
    const char *why;
};

#define NAME33 "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三"

static void test_validate_name(void **state)
{
    (void)state;
    static const struct name_case cases[] = {
        {"张三丰", "张三丰", NULL},
        {"Li Lei", "Li Lei", NULL},
        {"  张三 ", "张三", NULL},
        {"\t张三\r\n", "张三", NULL},
        {"\xe3\x80\x80张三\xe3\x80\x80", "张三", NULL},
        {" \xe3\x80\x80 Li Lei\xe3\x80\x80 ", "Li Lei", NULL},
        {"张\xe3\x80\x80三", "张\xe3\x80\x80三", NULL}, /* inside: kept */
        {"欧阳 娜娜", "欧阳 娜娜", NULL},
        {"Zoë", "Zoë", NULL},
        {"阿卜杜勒·买买提", "阿卜杜勒·买买提", NULL},
        {"𠀀", "𠀀", NULL},
        {"\xf4\x8f\xbf\xbf", NULL, VALIDATE_NAME_RULE}, /* U+10FFFF: not a letter */
        /* letters of any script, marks after a letter, the allowed punctuation */
        {"𠀀𠀁", "𠀀𠀁", NULL},                         /* CJK Extension B, 4-byte UTF-8 */
        {"\xf0\xaa\x9c\x80", "\xf0\xaa\x9c\x80", NULL}, /* U+2A700, Extension C */
        {"\xf0\xb0\x80\x80", "\xf0\xb0\x80\x80", NULL}, /* U+30000, Extension G */
        {"阿依古丽·买买提", "阿依古丽·买买提", NULL},
        {"O'Brien", "O'Brien", NULL},
        {"D\xe2\x80\x99"
         "Angelo",
         "D\xe2\x80\x99"
         "Angelo",
         NULL}, /* U+2019 */
        {"Jean-Luc", "Jean-Luc", NULL},
        {"Zoë Ødegård", "Zoë Ødegård", NULL},
        {"Ngô Bảo Châu", "Ngô Bảo Châu", NULL},
        {"Zoe\xcc\x88", "Zoe\xcc\x88", NULL}, /* e + U+0308 combining diaeresis */
        {"Ирина Петрова", "Ирина Петрова", NULL},
        {"Αλέξανδρος", "Αλέξανδρος", NULL},
        {"محمد", "محمد", NULL},
        {"مُحَمَّد", "مُحَمَّد", NULL}, /* with harakat (marks) */
        {"שרה", "שרה", NULL},
        {"สมชาย", "สมชาย", NULL},
        {"ณัฐวุฒิ", "ณัฐวุฒิ", NULL}, /* Thai vowel and tone marks */
        {"देवी", "देवी", NULL},
        {"लक्ष्मी", "लक्ष्मी", NULL}, /* virama */
        {"김민준", "김민준", NULL},
        {"さくら・ミク", "さくら・ミク", NULL},                         /* U+30FB */
        {"マリア\xe2\x80\xa7ロペス", "マリア\xe2\x80\xa7ロペス", NULL}, /* U+2027 */
        {"々子", "々子", NULL},
        /* anything else */
        {"\"Bob\\", NULL, VALIDATE_NAME_RULE},
        {"Bob\"", NULL, VALIDATE_NAME_RULE},
        {"Bo\\b", NULL, VALIDATE_NAME_RULE},
        {"R2D2", NULL, VALIDATE_NAME_RULE},
        {"张3", NULL, VALIDATE_NAME_RULE},
        {"Bob 😀", NULL, VALIDATE_NAME_RULE},
        {"😀", NULL, VALIDATE_NAME_RULE},
        {"👍\xf0\x9f\x8f\xbb", NULL, VALIDATE_NAME_RULE}, /* emoji + skin tone */
        {"𝄞", NULL, VALIDATE_NAME_RULE},
        {"a\xe2\x80\x8d"
         "b",
         NULL, VALIDATE_NAME_RULE}, /* ZWJ */
        {"a<b>", NULL, VALIDATE_NAME_RULE},
        {"a&b", NULL, VALIDATE_NAME_RULE},
        {"a;b", NULL, VALIDATE_NAME_RULE},
        {"a/b", NULL, VALIDATE_NAME_RULE},
        {"a_b", NULL, VALIDATE_NAME_RULE},
        {"a.b", NULL, VALIDATE_NAME_RULE},
        {"a,b", NULL, VALIDATE_NAME_RULE},
        {"a@b", NULL, VALIDATE_NAME_RULE},
        {"张\xe3\x80\x82", NULL, VALIDATE_NAME_RULE}, /* 。 */
        {"\xc2\xa9", NULL, VALIDATE_NAME_RULE},       /* © */
        {"\xe2\x82\xac", NULL, VALIDATE_NAME_RULE},   /* € */
        {"a\xc2\xa0"
         "b",
         NULL, VALIDATE_NAME_RULE},                 /* no-break space */
        {"\xee\x80\x80", NULL, VALIDATE_NAME_RULE}, /* private use U+E000 */
        {"\xcc\x88"
         "a",
         NULL, VALIDATE_NAME_RULE}, /* a mark with no letter before it */
        {"a \xcc\x88", NULL, VALIDATE_NAME_RULE},
        {"-", NULL, VALIDATE_NAME_RULE}, /* no letter at all */
        {"' -\xc2\xb7", NULL, VALIDATE_NAME_RULE},
        {"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二",
         "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二", NULL},
        {"  abcdefghijabcdefghijabcdefghijab  ", "abcdefghijabcdefghijabcdefghijab", NULL},
        {"", NULL, "must not be empty"},
        {"   ", NULL, "must not be empty"},
        {"\xe3\x80\x80\xe3\x80\x80", NULL, "must not be empty"},
        {" \t\r\n", NULL, "must not be empty"},
        {NAME33, NULL, "is longer than 32 characters"},
        {"abcdefghijabcdefghijabcdefghijabc", NULL, "is longer than 32 characters"},
        {"张\t三", NULL, "contains control characters"},
        {"张\n三", NULL, "contains control characters"},
        {"张三\x7f", NULL, "contains control characters"},
        {"\x01张三", NULL, "contains control characters"},
        {"张\xc2\x85三", NULL, "contains control characters"},     /* NEL (C1) */
        {"张\xc2\x9f三", NULL, "contains control characters"},     /* C1 */
        {"张\xe2\x80\xa8三", NULL, "contains control characters"}, /* U+2028 */
        {"张\xe2\x80\xa9三", NULL, "contains control characters"}, /* U+2029 */
        {"张\xe2\x80\xae三", NULL, "contains control characters"}, /* U+202E */
        {"张\xe2\x81\xa6三", NULL, "contains control characters"}, /* U+2066 */
        {"\xef\xbb\xbf张三", NULL, "contains control characters"}, /* BOM */
        {"张\xff", NULL, "is not valid UTF-8"},
        {"\x80", NULL, "is not valid UTF-8"},
        {"\xc0\x80", NULL, "is not valid UTF-8"},         /* overlong NUL */
        {"\xc1\xbf", NULL, "is not valid UTF-8"},         /* overlong */
        {"\xe0\x80\xaf", NULL, "is not valid UTF-8"},     /* overlong '/' */
        {"\xe0\x9f\xbf", NULL, "is not valid UTF-8"},     /* overlong */
        {"\xf0\x80\x80\xaf", NULL, "is not valid UTF-8"}, /* overlong */
        {"\xf0\x8f\xbf\xbf", NULL, "is not valid UTF-8"}, /* overlong */
        {"\xed\xa0\x80", NULL, "is not valid UTF-8"},     /* U+D800 */
        {"\xed\xbf\xbf", NULL, "is not valid UTF-8"},     /* U+DFFF */
        {"\xf4\x90\x80\x80", NULL, "is not valid UTF-8"}, /* U+110000 */
        {"\xf5\x80\x80\x80", NULL, "is not valid UTF-8"},
        {"\xe5\xbc", NULL, "is not valid UTF-8"}, /* truncated */
        {"\345\274a", NULL, "is not valid UTF-8"},
        {"  \xe5  ", NULL, "is not valid UTF-8"},
        {NAME33 "\xff", NULL, "is not valid UTF-8"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        char out[VALIDATE_NAME_BUF];
        memset(out, 'X', sizeof out);
        const char *why = "unset";
        int rc = validate_name(cases[i].in, out, sizeof out, &why);
        if (cases[i].want) {
            assert_int_equal(rc, 0);
            assert_null(why);
            assert_string_equal(out, cases[i].want);
        } else {
            assert_int_equal(rc, KIOSKD_EINVAL);
            assert_non_null(why);
            assert_string_equal(why, cases[i].why);
            assert_string_equal(out, "");
        }
    }
    const char *why = NULL;
    char out[VALIDATE_NAME_BUF];
    assert_int_equal(validate_name(NULL, out, sizeof out, &why), KIOSKD_EINVAL);
    assert_string_equal(why, "must not be empty");
    assert_int_equal(validate_name(" Li ", out, sizeof out, NULL), 0);
    assert_string_equal(out, "Li");
    char small[4];
    assert_int_equal(validate_name("张三", small, sizeof small, &why), KIOSKD_ETOOBIG);
    assert_string_equal(small, "");
    assert_int_equal(validate_name("张", small, sizeof small, &why), 0);
    assert_string_equal(small, "张");
    /* 32 four-byte code points fit in VALIDATE_NAME_BUF. */
    char longest[32 * 4 + 1] = "";
    for (int i = 0; i < 32; i++)
        memcpy(longest + i * 4, "\xf0\xa0\x80\x80", 5);
    assert_int_equal(validate_name(longest, out, sizeof out, &why), 0);
    assert_string_equal(out, longest);
}

static void test_utf8_count(void **state)
{
    (void)state;
    assert_int_equal(utf8_count(NULL), 0);
    assert_int_equal(utf8_count(""), 0);
    assert_int_equal(utf8_count("abc"), 3);
    assert_int_equal(utf8_count("张三丰"), 3);
    assert_int_equal(utf8_count("Zoë 𠀀"), 5);
    assert_int_equal(utf8_count(NAME33), 33);
    assert_true(utf8_count("a\xff") == SIZE_MAX);
    assert_true(utf8_count("\xed\xa0\x80") == SIZE_MAX);
    assert_true(utf8_count("\xe5\xbc") == SIZE_MAX);

    uint32_t cp = 0;
    assert_int_equal(utf8_decode("\xe4\xb8\x89", 3, &cp), 3);
    assert_int_equal(cp, 0x4E09);
    assert_int_equal(utf8_decode("\xe4\xb8\x89", 2, &cp), 0); /* n cuts it short */
    assert_int_equal(utf8_decode("\xef\xbf\xbf", 3, &cp), 3);
    assert_int_equal(cp, 0xFFFF);
    assert_int_equal(utf8_decode("\xee\x80\x80", 3, &cp), 3);
    assert_int_equal(cp, 0xE000);
    assert_int_equal(utf8_decode("\xed\x9f\xbf", 3, &cp), 3);
    assert_int_equal(cp, 0xD7FF);
    assert_int_equal(utf8_decode("\xc2\x80", 2, &cp), 2);
    assert_int_equal(cp, 0x80);
    assert_int_equal(utf8_decode("x", 0, &cp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_phone),      cmocka_unit_test(test_mask_name),
        cmocka_unit_test(test_validate_mobile), cmocka_unit_test(test_validate_name),
        cmocka_unit_test(test_utf8_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
