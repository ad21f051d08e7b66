/* The chat bot's command reader: variants, full-width text, arguments, and
 * texts that are no command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/botcmd.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct bot_cmd parse(const char *s)
{
    struct bot_cmd c;
    bot_parse(s, strlen(s), &c);
    return c;
}

static void test_variants(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum bot_cmd_kind kind;
    } cases[] = {
        {"积分", BOT_POINTS},
        {" 查积分 ", BOT_POINTS},
        {"\xe3\x80\x80我的积分！", BOT_POINTS}, /* ideographic space, full-width ! */
        {"积分查询?", BOT_POINTS},
        {"【积分】", BOT_POINTS},
        {"JF", BOT_POINTS},
        {"活动", BOT_EVENTS},
        {"近期活动。", BOT_EVENTS},
        {"帮助", BOT_HELP},
        {"HELP", BOT_HELP},
        {"菜单", BOT_HELP},
        {"退订", BOT_OPTOUT},
        {"TD", BOT_OPTOUT},
        {"订阅", BOT_OPTIN},
        {"解绑", BOT_UNBIND},
        {"解除绑定", BOT_UNBIND},
        {"积分积分", BOT_UNKNOWN},
        {"你好", BOT_UNKNOWN},
        {"", BOT_UNKNOWN},
        {"积分 谢谢", BOT_UNKNOWN},
        {"\xff\xfe积分", BOT_UNKNOWN}, /* not UTF-8 */
    };
    for (size_t i = 0; i < N(cases); i++)
        assert_int_equal(parse(cases[i].text).kind, cases[i].kind);
}

static void test_signup_takes_a_number(void **state)
{
    (void)state;
    struct bot_cmd c = parse("报名 3");
    assert_int_equal(c.kind, BOT_SIGNUP);
    assert_int_equal(c.event_id, 3);
    c = parse("报名\xef\xbc\x91\xef\xbc\x92"); /* full-width 12 */
    assert_int_equal(c.kind, BOT_SIGNUP);
    assert_int_equal(c.event_id, 12);
    c = parse("报名第5场");
    assert_int_equal(c.kind, BOT_SIGNUP);
    assert_int_equal(c.event_id, 5);
    c = parse("报名");
    assert_int_equal(c.kind, BOT_SIGNUP);
    assert_int_equal(c.event_id, 0);
    assert_int_equal(parse("报名 3 4").kind, BOT_UNKNOWN);
    assert_int_equal(parse("报名 abc").kind, BOT_UNKNOWN);
    c = parse("报名 99999999999"); /* too long to be an event number */
    assert_int_equal(c.kind, BOT_UNKNOWN);
}

static void test_bind_takes_phone_and_code(void **state)
{
    (void)state;
    struct bot_cmd c = parse("绑定 13812345678 123456");
    assert_int_equal(c.kind, BOT_BIND);
    assert_string_equal(c.phone, "13812345678");
    assert_string_equal(c.code, "123456");
    c = parse("绑定：13812345678，123456。");
    assert_int_equal(c.kind, BOT_BIND);
    assert_string_equal(c.phone, "13812345678");
    assert_string_equal(c.code, "123456");
    c = parse("绑定 1381234567 12345"); /* wrong lengths: the reply says what to type */
    assert_int_equal(c.kind, BOT_BIND);
    assert_string_equal(c.phone, "");
    assert_string_equal(c.code, "");
    c = parse("绑定");
    assert_int_equal(c.kind, BOT_BIND);
    assert_int_equal(parse("绑定 13812345678 123456 9").kind, BOT_UNKNOWN);
}

static void test_long_text_is_no_command(void **state)
{
    (void)state;
    char big[BOT_TEXT_MAX + 8];
    memset(big, ' ', sizeof big);
    memcpy(big, "积分", strlen("积分"));
    struct bot_cmd c;
    bot_parse(big, sizeof big, &c);
    assert_int_equal(c.kind, BOT_UNKNOWN);
    assert_string_equal(bot_cmd_name(BOT_POINTS), "points");
    assert_string_equal(bot_cmd_name((enum bot_cmd_kind)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_signup_takes_a_number),
        cmocka_unit_test(test_bind_takes_phone_and_code),
        cmocka_unit_test(test_long_text_is_no_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
