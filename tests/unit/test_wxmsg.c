/*
 * WeChat message XML: the message kinds the bot takes, a table of hostile and
 * malformed bodies with the status each must get (XXE, billion laughs, deep
 * nesting, oversize, invalid UTF-8, control characters, misplaced fields),
 * every prefix of a message, and replies (plain and encrypted) read back
 * through the parser, "]]>" in every position included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/status.h"
#include "core/wxcrypto.h"
#include "core/wxmsg.h"

static const char key43[] = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
static const char appid[] = "wx49f0ab532d5d035a";

#define HEAD                                                                                       \
    "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"                                    \
    "<FromUserName><![CDATA[oVtest_openid_0001]]></FromUserName>"                                  \
    "<CreateTime>1700000000</CreateTime>"
#define TEXT(content)                                                                              \
    HEAD "<MsgType><![CDATA[text]]></MsgType><Content>" content "</Content>"                       \
         "<MsgId>6054768590064713728</MsgId></xml>"

/* Parses a copy in a block of exactly n bytes, so ASan sees any over-read. */
static int parse_exact(const char *s, size_t n, struct wx_msg *m, const char **why)
{
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    if (n > 0)
        memcpy(copy, s, n);
    int rc = wx_msg_parse(copy, n, m, why);
    free(copy);
    return rc;
}

static int parse_str(const char *s, const char **why)
{
    struct wx_msg *m = malloc(sizeof *m);
    assert_non_null(m);
    int rc = parse_exact(s, strlen(s), m, why);
    wx_msg_free(m);
    free(m);
    return rc;
}

static void test_text_message(void **state)
{
    (void)state;
    struct wx_msg m;
    const char *xml = TEXT("<![CDATA[积分]]>");
    assert_int_equal(parse_exact(xml, strlen(xml), &m, NULL), 0);
    assert_string_equal(m.to, "gh_0123456789ab");
    assert_string_equal(m.from, "oVtest_openid_0001");
    assert_true(m.create_time == 1700000000);
    assert_string_equal(m.msg_type, "text");
    assert_string_equal(m.content, "积分");
    assert_int_equal(m.content_len, strlen("积分"));
    assert_string_equal(m.msg_id, "6054768590064713728");
    assert_null(m.encrypt);
    assert_int_equal(m.have, WX_TO | WX_FROM | WX_CREATETIME | WX_MSGTYPE | WX_CONTENT | WX_MSGID);
    wx_msg_free(&m);

    /* plain text with the predefined entities and character references,
     * newlines kept, surrounding markup ignored */
    const char *x2 = "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<xml>\n"
                     "<ToUserName>gh_1</ToUserName>\n<FromUserName>o1</FromUserName>\n"
                     "<CreateTime>0</CreateTime><MsgType>text</MsgType>"
                     "<Content>a &amp; b &lt;c&gt; &#x79EF;\tline\nnext</Content>"
                     "<PicUrl a=\"1\">ignored</PicUrl><?pi ignored?></xml>\n";
    assert_int_equal(parse_exact(x2, strlen(x2), &m, NULL), 0);
    assert_string_equal(m.content, "a & b <c> 积\tline\nnext");
    assert_true(m.create_time == 0);
    assert_string_equal(m.msg_id, "");
    wx_msg_free(&m);
}

static void test_events_and_envelope(void **state)
{
    (void)state;
    struct wx_msg m;
    const char *sub =
        HEAD "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
             "<EventKey><![CDATA[]]></EventKey></xml>";
    assert_int_equal(parse_exact(sub, strlen(sub), &m, NULL), 0);
    assert_string_equal(m.event, "subscribe");
    assert_string_equal(m.event_key, "");
    assert_true(m.have & WX_EVENTKEY);
    wx_msg_free(&m);

    const char *scan = HEAD "<MsgType>event</MsgType><Event>SCAN</Event>"
                            "<EventKey>qrscene_123</EventKey><Ticket>TICKET</Ticket>"
                            "<ScanCodeInfo><ScanType>qrcode</ScanType>"
                            "<ScanResult>1</ScanResult></ScanCodeInfo></xml>";
    assert_int_equal(parse_exact(scan, strlen(scan), &m, NULL), 0);
    assert_string_equal(m.event, "SCAN");
    assert_string_equal(m.event_key, "qrscene_123");
    wx_msg_free(&m);

    const char *env = "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
                      "<Encrypt><![CDATA[AAAA+/==]]></Encrypt></xml>";
    assert_int_equal(parse_exact(env, strlen(env), &m, NULL), 0);
    assert_non_null(m.encrypt);
    assert_string_equal(m.encrypt, "AAAA+/==");
    assert_int_equal(m.encrypt_len, 8);
    wx_msg_free(&m);
    assert_null(m.encrypt);
    wx_msg_free(NULL);

    /* other kinds need only the four common fields */
    const char *img = HEAD "<MsgType>image</MsgType><PicUrl>http://x/y</PicUrl>"
                           "<MediaId>m</MediaId><MsgId>1</MsgId></xml>";
    assert_int_equal(parse_exact(img, strlen(img), &m, NULL), 0);
    wx_msg_free(&m);
}

struct bad {
    const char *name;
    const char *xml;
    int rc;
    const char *why; /* when the reason matters */
};

#define NO_DTD "a DOCTYPE (no DTD is accepted)"

static const struct bad bad_cases[] = {
    {"xxe",
     "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
     "<xml><ToUserName>a</ToUserName></xml>",
     KIOSKD_EMALFORMED, NO_DTD},
    {"xxe in content", "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" TEXT("&x;"),
     KIOSKD_EMALFORMED, NO_DTD},
    {"billion laughs",
     "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
     "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
     "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">"
     "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
     "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
     "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
     "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
     "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
     "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
     "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">"
     "]>" TEXT("&lol9;"),
     KIOSKD_EMALFORMED, NO_DTD},
    {"external dtd", "<!DOCTYPE xml SYSTEM \"http://127.0.0.1:1/x.dtd\">" TEXT("a"),
     KIOSKD_EMALFORMED, NO_DTD},
    {"bare doctype", "<!DOCTYPE xml>" TEXT("a"), KIOSKD_EMALFORMED, NO_DTD},
    {"parameter entity", "<!DOCTYPE xml [<!ENTITY % p SYSTEM \"http://x/\"> %p;]>" TEXT("a"),
     KIOSKD_EMALFORMED, NO_DTD},
    {"undefined entity", TEXT("&x;"), KIOSKD_EMALFORMED, NULL},
    {"not xml", "hello", KIOSKD_EMALFORMED, NULL},
    {"no opening bracket", "xml></xml>", KIOSKD_EMALFORMED, NULL},
    {"two roots", "<xml></xml><xml></xml>", KIOSKD_EMALFORMED, NULL},
    {"wrong root", "<message><ToUserName>a</ToUserName></message>", KIOSKD_EMALFORMED, NULL},
    {"empty xml", "<xml/>", KIOSKD_EMALFORMED, NULL},
    {"no MsgType", HEAD "</xml>", KIOSKD_EMALFORMED, NULL},
    {"text without Content", HEAD "<MsgType>text</MsgType></xml>", KIOSKD_EMALFORMED, NULL},
    {"event without Event", HEAD "<MsgType>event</MsgType></xml>", KIOSKD_EMALFORMED, NULL},
    {"repeated field", HEAD "<MsgType>text</MsgType><Content>a</Content><Content>b</Content></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"repeated sender", HEAD "<FromUserName>other</FromUserName><MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"element in a field", HEAD "<MsgType>text</MsgType><Content>a<b/>c</Content></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"text beside fields", HEAD "<MsgType>image</MsgType>stray</xml>", KIOSKD_EMALFORMED, NULL},
    {"empty sender",
     "<xml><ToUserName>a</ToUserName><FromUserName></FromUserName><CreateTime>1</CreateTime>"
     "<MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"empty Encrypt", "<xml><ToUserName>a</ToUserName><Encrypt></Encrypt></xml>", KIOSKD_EMALFORMED,
     NULL},
    {"CreateTime words",
     "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>soon</CreateTime>"
     "<MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"CreateTime negative",
     "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>-1</CreateTime>"
     "<MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"CreateTime spaces",
     "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime> 1</CreateTime>"
     "<MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"CreateTime overflow",
     "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
     "<CreateTime>9999999999999999999</CreateTime><MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"CreateTime 20 digits",
     "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
     "<CreateTime>00000000000000000001</CreateTime><MsgType>image</MsgType></xml>",
     KIOSKD_ETOOBIG, NULL},
    {"MsgId letters", HEAD "<MsgType>image</MsgType><MsgId>12a</MsgId></xml>", KIOSKD_EMALFORMED,
     NULL},
    {"MsgId 21 digits", HEAD "<MsgType>image</MsgType><MsgId>123456789012345678901</MsgId></xml>",
     KIOSKD_ETOOBIG, NULL},
    {"invalid UTF-8", TEXT("\xff"), KIOSKD_EMALFORMED, NULL},
    {"overlong UTF-8", TEXT("\xc0\xaf"), KIOSKD_EMALFORMED, NULL},
    {"surrogate UTF-8", TEXT("\xed\xa0\x80"), KIOSKD_EMALFORMED, NULL},
    {"truncated UTF-8", TEXT("\xe7\xa7"), KIOSKD_EMALFORMED, NULL},
    {"U+FFFF", TEXT("\xef\xbf\xbf"), KIOSKD_EMALFORMED, NULL},
    {"declared latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" TEXT("\xe9"),
     KIOSKD_EMALFORMED, NULL},
    {"UTF-16 BOM", "\xfe\xff<xml/>", KIOSKD_EMALFORMED, NULL},
    {"control character", TEXT("a\x01"), KIOSKD_EMALFORMED, NULL},
    {"control reference", TEXT("a&#1;"), KIOSKD_EMALFORMED, NULL},
    {"NUL reference", TEXT("a&#0;"), KIOSKD_EMALFORMED, NULL},
    {"escape", TEXT("\x1b[2J"), KIOSKD_EMALFORMED, NULL},
    {"DEL", TEXT("a\x7f"), KIOSKD_EMALFORMED, NULL},
    {"DEL reference", TEXT("a&#127;"), KIOSKD_EMALFORMED, NULL},
    {"C1 control", TEXT("a\xc2\x85"), KIOSKD_EMALFORMED, NULL},
    {"newline in sender",
     "<xml><ToUserName>a</ToUserName><FromUserName>b\nc</FromUserName><CreateTime>1</CreateTime>"
     "<MsgType>image</MsgType></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"tab in MsgType", HEAD "<MsgType>te\txt</MsgType><Content>a</Content></xml>",
     KIOSKD_EMALFORMED, NULL},
    {"long sender",
     "<xml><ToUserName>a</ToUserName><FromUserName>"
     "12345678901234567890123456789012345678901234567890123456789012345"
     "</FromUserName><CreateTime>1</CreateTime><MsgType>image</MsgType></xml>",
     KIOSKD_ETOOBIG, NULL},
    {"long MsgType", HEAD "<MsgType>123456789012345678901234567890123</MsgType></xml>",
     KIOSKD_ETOOBIG, NULL},
};

static void test_hostile_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const char *why = NULL;
        int rc = parse_str(bad_cases[i].xml, &why);
        if (rc != bad_cases[i].rc)
            fail_msg("case '%s': got %d (%s), want %d", bad_cases[i].name, rc, why ? why : "-",
                     bad_cases[i].rc);
        assert_non_null(why);
        if (bad_cases[i].why != NULL && strcmp(why, bad_cases[i].why) != 0)
            fail_msg("case '%s': refused for '%s', want '%s'", bad_cases[i].name, why,
                     bad_cases[i].why);
    }
    /* the NUL byte is not text */
    static const char nul[] = TEXT("a\0b");
    assert_int_equal(parse_exact(nul, sizeof nul - 1, &(struct wx_msg){0}, NULL),
                     KIOSKD_EMALFORMED);
    assert_int_equal(wx_msg_parse(NULL, 0, &(struct wx_msg){0}, NULL), KIOSKD_EMALFORMED);
    assert_int_equal(wx_msg_parse("", 0, &(struct wx_msg){0}, NULL), KIOSKD_EMALFORMED);
}

/* With the caller's hash salt (the daemon's): the same message, the same
 * refusals. */
static void test_salted(void **state)
{
    (void)state;
    struct wx_msg m;
    const char *xml = TEXT("<![CDATA[积分]]>");
    assert_int_equal(wx_msg_parse_salted(xml, strlen(xml), 0x5a17u, &m, NULL), 0);
    assert_string_equal(m.content, "积分");
    assert_string_equal(m.msg_id, "6054768590064713728");
    wx_msg_free(&m);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const char *why = NULL;
        int rc = wx_msg_parse_salted(bad_cases[i].xml, strlen(bad_cases[i].xml), 0x9e3779b9u + i,
                                     &m, &why);
        if (rc != bad_cases[i].rc)
            fail_msg("case '%s' salted: got %d (%s), want %d", bad_cases[i].name, rc,
                     why ? why : "-", bad_cases[i].rc);
    }
}

/* Builds "<xml>" + n times open + close + "</xml>" in a new string. */
static char *repeat(const char *open, const char *close, size_t n)
{
    struct buf b;
    buf_init(&b, 4 * WX_XML_MAX);
    assert_int_equal(buf_puts(&b, "<xml>"), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, open), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, close), 0);
    assert_int_equal(buf_puts(&b, "</xml>"), 0);
    return buf_steal(&b, NULL);
}

static void test_limits(void **state)
{
    (void)state;
    const char *why = NULL;
    char *s;

    /* depth: the deepest allowed, one more, and thousands more */
    s = repeat("<a>", "</a>", WX_XML_DEPTH_MAX - 1);
    assert_int_equal(parse_str(s, &why), KIOSKD_EMALFORMED); /* fine XML, no fields */
    assert_string_equal(why, "a required field is missing");
    free(s);
    s = repeat("<a>", "</a>", WX_XML_DEPTH_MAX);
    assert_int_equal(parse_str(s, &why), KIOSKD_ETOOBIG);
    assert_string_equal(why, "nested too deep");
    free(s);
    s = repeat("<a>", "</a>", 7000);
    assert_true(strlen(s) <= WX_XML_MAX);
    assert_int_equal(parse_str(s, &why), KIOSKD_ETOOBIG);
    free(s);
    s = repeat("<a>", "", 10000); /* not even closed */
    assert_int_equal(parse_str(s, &why), KIOSKD_ETOOBIG);
    free(s);

    /* element count */
    s = repeat("<a/>", "", WX_XML_ELEMENTS_MAX - 1);
    assert_int_equal(parse_str(s, &why), KIOSKD_EMALFORMED);
    free(s);
    s = repeat("<a/>", "", WX_XML_ELEMENTS_MAX);
    assert_int_equal(parse_str(s, &why), KIOSKD_ETOOBIG);
    assert_string_equal(why, "too many elements");
    free(s);

    /* total size: exactly the limit parses, one more byte is refused unread */
    struct buf b;
    buf_init(&b, 2 * WX_XML_MAX);
    const char *head = HEAD "<MsgType>text</MsgType><Content>x</Content>";
    assert_int_equal(buf_puts(&b, head), 0);
    while (b.len < WX_XML_MAX - strlen("</xml>"))
        assert_int_equal(buf_puts(&b, " "), 0);
    assert_int_equal(buf_puts(&b, "</xml>"), 0);
    assert_int_equal(b.len, WX_XML_MAX);
    assert_int_equal(parse_str(b.data, &why), 0);
    assert_int_equal(buf_puts(&b, " "), 0);
    assert_int_equal(parse_str(b.data, &why), KIOSKD_ETOOBIG);
    buf_free(&b);
    /* a 1 MiB body */
    s = malloc(1 << 20);
    assert_non_null(s);
    memset(s, ' ', 1 << 20);
    memcpy(s, "<xml>", 5);
    assert_int_equal(wx_msg_parse(s, 1 << 20, &(struct wx_msg){0}, &why), KIOSKD_ETOOBIG);
    free(s);

    /* Content: WX_CONTENT_MAX bytes are kept, one more is refused */
    char *content = malloc(WX_CONTENT_MAX + 2);
    assert_non_null(content);
    memset(content, 'c', WX_CONTENT_MAX + 1);
    content[WX_CONTENT_MAX] = '\0';
    buf_init(&b, WX_XML_MAX);
    assert_int_equal(
        buf_printf(&b, HEAD "<MsgType>text</MsgType><Content>%s</Content></xml>", content), 0);
    struct wx_msg *m = malloc(sizeof *m);
    assert_non_null(m);
    assert_int_equal(parse_exact(b.data, b.len, m, NULL), 0);
    assert_int_equal(m->content_len, WX_CONTENT_MAX);
    wx_msg_free(m);
    content[WX_CONTENT_MAX] = 'c';
    content[WX_CONTENT_MAX + 1] = '\0';
    buf_reset(&b);
    assert_int_equal(
        buf_printf(&b, HEAD "<MsgType>text</MsgType><Content>%s</Content></xml>", content), 0);
    assert_int_equal(parse_exact(b.data, b.len, m, &why), KIOSKD_ETOOBIG);
    assert_string_equal(why, "a field is too long");
    wx_msg_free(m);
    free(m);
    free(content);
    buf_free(&b);
}

/* Every proper prefix of a message is refused, and none is read past. */
static void test_prefixes(void **state)
{
    (void)state;
    const char *xml = TEXT("<![CDATA[积分 ]]]]><![CDATA[>]]>");
    struct wx_msg m;
    size_t n = strlen(xml);
    for (size_t i = 0; i < n; i++) {
        int rc = parse_exact(xml, i, &m, NULL);
        assert_true(rc == KIOSKD_EMALFORMED);
        wx_msg_free(&m);
    }
    assert_int_equal(parse_exact(xml, n, &m, NULL), 0);
    assert_string_equal(m.content, "积分 ]]>");
    wx_msg_free(&m);
}

static void read_back(const char *content)
{
    struct buf b;
    struct wx_msg m;
    buf_init(&b, WX_XML_MAX);
    assert_int_equal(
        wx_reply_text(&b, "oVtest_openid_0001", "gh_0123456789ab", 1700000001, content), 0);
    const char *why = NULL;
    int rc = parse_exact(b.data, b.len, &m, &why);
    if (rc != 0)
        fail_msg("reply for %s did not parse: %s\n%s", content, why ? why : "-", b.data);
    assert_string_equal(m.to, "oVtest_openid_0001");
    assert_string_equal(m.from, "gh_0123456789ab");
    assert_true(m.create_time == 1700000001);
    assert_string_equal(m.msg_type, "text");
    assert_string_equal(m.content, content);
    wx_msg_free(&m);
    buf_free(&b);
}

static void test_reply_text(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(wx_reply_text(&b, "oV1", "gh_1", 1700000001, "张*您好"), 0);
    assert_string_equal(b.data, "<xml><ToUserName><![CDATA[oV1]]></ToUserName>"
                                "<FromUserName><![CDATA[gh_1]]></FromUserName>"
                                "<CreateTime>1700000001</CreateTime>"
                                "<MsgType><![CDATA[text]]></MsgType>"
                                "<Content><![CDATA[张*您好]]></Content></xml>");
    buf_reset(&b);
    assert_int_equal(wx_reply_text(&b, "o", "g", 0, "a]]>b"), 0);
    assert_non_null(strstr(b.data, "<Content><![CDATA[a]]]]><![CDATA[>b]]></Content>"));
    buf_reset(&b);
    assert_int_equal(wx_reply_text(&b, "o", "g", 0, "a\r\nb"), 0);
    assert_non_null(strstr(b.data, "<Content><![CDATA[a]]>&#13;<![CDATA[\nb]]></Content>"));
    buf_free(&b);

    const char *contents[] = {
        "",
        "]]>",
        "]]>]]>",
        "a]]>b]]>c",
        "]",
        "]]",
        "x]]",
        "]]]",
        "]]]>>",
        "]]]]>",
        "><![CDATA[",
        "]]><![CDATA[x]]>",
        "<&>'\"",
        "&amp;",
        "line1\nline2\tTab",
        "活动 1. 升级会 ]]> 🎉",
        "]]>]",
        "CDATA]]",
        "]>]]>>]]]>",
        "a\rb",
        "\r\n",
        "]]>\r",
        "\r]]>\r\r",
        "\r",
    };
    for (size_t i = 0; i < sizeof contents / sizeof contents[0]; i++)
        read_back(contents[i]);
    /* every placement of "]]>" in a short string of ']' and '>' */
    char s[9];
    for (unsigned mask = 0; mask < 256; mask++) {
        for (int i = 0; i < 8; i++)
            s[i] = (mask >> i) & 1 ? ']' : '>';
        s[8] = '\0';
        read_back(s);
    }
}

static void test_reply_refusals(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(buf_puts(&b, "keep"), 0);
    const char *bad_text[] = {"a\x01",    "\x7f",         "\xc2\x85",     "\xff",
                              "\xc0\xaf", "\xed\xa0\x80", "\xef\xbf\xbe", "\xe7\xa7"};
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++)
        assert_int_equal(wx_reply_text(&b, "o", "g", 1, bad_text[i]), KIOSKD_EINVAL);
    assert_int_equal(wx_reply_text(&b, "", "g", 1, "x"), KIOSKD_EINVAL);
    assert_int_equal(wx_reply_text(&b, "o\n", "g", 1, "x"), KIOSKD_EINVAL);
    assert_int_equal(wx_reply_text(&b, "o", NULL, 1, "x"), KIOSKD_EINVAL);
    assert_int_equal(wx_reply_text(&b, "o", "g", -1, "x"), KIOSKD_EINVAL);
    assert_int_equal(wx_reply_text(&b, "o", "g", 1, NULL), KIOSKD_EINVAL);
    assert_string_equal(b.data, "keep");
    buf_free(&b);
    /* the ceiling: each size short of the whole reply fails and leaves the buffer */
    buf_init(&b, 4096);
    assert_int_equal(wx_reply_text(&b, "o", "g", 1, "hello ]]> world"), 0);
    size_t need = b.len;
    buf_free(&b);
    for (size_t max = 4; max <= need + 4; max++) {
        buf_init(&b, max);
        assert_int_equal(buf_puts(&b, "keep"), 0);
        int rc = wx_reply_text(&b, "o", "g", 1, "hello ]]> world");
        assert_int_equal(rc, max == need + 4 ? 0 : KIOSKD_ETOOBIG);
        if (rc != 0)
            assert_string_equal(b.data, "keep");
        buf_free(&b);
    }
}

static void test_reply_encrypted(void **state)
{
    (void)state;
    struct wx_key k;
    struct buf plain, env, dec;
    struct wx_msg m, inner;
    const unsigned char rnd[WX_RANDOM_BYTES] = "ABCDEFGHIJKLMNOP";
    char sig[WX_SIG_HEX + 1];

    assert_int_equal(wx_key_load(&k, key43, strlen(key43)), 0);
    buf_init(&plain, WX_XML_MAX);
    buf_init(&env, 2 * WX_XML_MAX);
    buf_init(&dec, WX_XML_MAX);
    assert_int_equal(
        wx_reply_text(&plain, "oVtest_openid_0001", "gh_0123456789ab", 1700000000, "积分 ]]> 1280"),
        0);
    struct wx_seal seal = {&k, appid, "kioskdToken", rnd, 1700000000, "1234567890"};
    assert_int_equal(wx_reply_encrypted(&env, &seal, plain.data, plain.len), 0);
    assert_int_equal(parse_exact(env.data, env.len, &m, NULL), 0);
    assert_true(m.have & WX_ENCRYPT);
    assert_string_equal(m.timestamp, "1700000000");
    assert_string_equal(m.nonce, "1234567890");
    assert_int_equal(wx_msg_signature("kioskdToken", m.timestamp, m.nonce, m.encrypt, sig), 0);
    assert_true(wx_sig_equal(sig, m.msg_signature, strlen(m.msg_signature)));
    assert_int_equal(wx_decrypt(&k, appid, m.encrypt, m.encrypt_len, &dec), 0);
    assert_int_equal(dec.len, plain.len);
    assert_memory_equal(dec.data, plain.data, plain.len);
    assert_int_equal(parse_exact(dec.data, dec.len, &inner, NULL), 0);
    assert_string_equal(inner.content, "积分 ]]> 1280");
    assert_string_equal(inner.to, "oVtest_openid_0001");
    wx_msg_free(&inner);
    wx_msg_free(&m);

    /* refusals leave the buffer as it was */
    buf_reset(&env);
    assert_int_equal(buf_puts(&env, "keep"), 0);
    const char *bad_nonces[] = {
        "",      "12 34",
        "12]]>", "\xe4\xb8\x80",
        NULL,    "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad_nonces / sizeof bad_nonces[0]; i++) {
        struct wx_seal s2 = seal;
        s2.nonce = bad_nonces[i];
        assert_int_equal(wx_reply_encrypted(&env, &s2, "x", 1), KIOSKD_EINVAL);
    }
    struct wx_seal s3 = seal;
    s3.timestamp = -5;
    assert_int_equal(wx_reply_encrypted(&env, &s3, "x", 1), KIOSKD_EINVAL);
    s3 = seal;
    s3.appid = "";
    assert_int_equal(wx_reply_encrypted(&env, &s3, "x", 1), KIOSKD_EINVAL);
    assert_int_equal(wx_reply_encrypted(&env, NULL, "x", 1), KIOSKD_EINVAL);
    assert_string_equal(env.data, "keep");
    struct buf small;
    buf_init(&small, 100);
    assert_int_equal(wx_reply_encrypted(&small, &seal, "x", 1), KIOSKD_ETOOBIG);
    assert_int_equal(small.len, 0);
    buf_free(&small);

    buf_free(&plain);
    buf_free(&env);
    buf_free(&dec);
    wx_key_wipe(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_message),   cmocka_unit_test(test_events_and_envelope),
        cmocka_unit_test(test_hostile_table),  cmocka_unit_test(test_limits),
        cmocka_unit_test(test_prefixes),       cmocka_unit_test(test_reply_text),
        cmocka_unit_test(test_reply_refusals), cmocka_unit_test(test_reply_encrypted),
        cmocka_unit_test(test_salted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
