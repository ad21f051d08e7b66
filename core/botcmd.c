#include "core/botcmd.h"

#include <stdbool.h>
#include <string.h>

#include "core/validate.h"

/* What a text is reduced to: ASCII letters lower-cased, full-width digits and
 * letters made ASCII, runs of spaces (any kind) and punctuation made one
 * space, other characters kept. */
struct norm {
    char s[BOT_TEXT_MAX + 1];
    size_t n;
};

static bool is_punct(uint32_t cp)
{
    static const uint32_t marks[] = {0x3001, 0x3002, 0xFF0C, 0xFF01, 0xFF1F, 0xFF1A, 0xFF1B,
                                     0x2026, 0x300C, 0x300D, 0x3010, 0x3011, 0xFF08, 0xFF09,
                                     0x201C, 0x201D, 0x2018, 0x2019, 0xFF5E, 0x00B7, 0x3000};
    if (cp < 0x80)
        return !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'));
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (cp == marks[i])
            return true;
    return validate_cp_space(cp) || validate_cp_forbidden(cp);
}

static bool normalise(const char *text, size_t len, struct norm *o)
{
    o->n = 0;
    bool space = true; /* drops leading separators */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t step = utf8_decode(text + i, len - i, &cp);
        if (!step)
            return false;
        if (cp >= 0xFF10 && cp <= 0xFF19)
            cp = '0' + (cp - 0xFF10); /* full-width digits */
        else if (cp >= 0xFF21 && cp <= 0xFF3A)
            cp = 'a' + (cp - 0xFF21);
        else if (cp >= 0xFF41 && cp <= 0xFF5A)
            cp = 'a' + (cp - 0xFF41);
        else if (cp >= 'A' && cp <= 'Z')
            cp = cp - 'A' + 'a';
        if (is_punct(cp)) {
            if (!space && o->n < BOT_TEXT_MAX)
                o->s[o->n++] = ' ';
            space = true;
        } else if (cp < 0x80) {
            if (o->n + 1 > BOT_TEXT_MAX)
                return false;
            o->s[o->n++] = (char)cp;
            space = false;
        } else {
            if (o->n + step > BOT_TEXT_MAX)
                return false;
            memcpy(o->s + o->n, text + i, step);
            o->n += step;
            space = false;
        }
        i += step;
    }
    while (o->n && o->s[o->n - 1] == ' ')
        o->n--;
    o->s[o->n] = '\0';
    return true;
}

/* Words that name each command, whole (after normalising). */
static const struct {
    const char *word;
    enum bot_cmd_kind kind;
} words[] = {
    {"积分", BOT_POINTS},     {"查积分", BOT_POINTS},   {"我的积分", BOT_POINTS},
    {"积分查询", BOT_POINTS}, {"查询积分", BOT_POINTS}, {"积分余额", BOT_POINTS},
    {"jf", BOT_POINTS},       {"活动", BOT_EVENTS},     {"查活动", BOT_EVENTS},
    {"近期活动", BOT_EVENTS}, {"活动列表", BOT_EVENTS}, {"最新活动", BOT_EVENTS},
    {"hd", BOT_EVENTS},       {"解绑", BOT_UNBIND},     {"解除绑定", BOT_UNBIND},
    {"退订", BOT_OPTOUT},     {"取消订阅", BOT_OPTOUT}, {"td", BOT_OPTOUT},
    {"订阅", BOT_OPTIN},      {"恢复订阅", BOT_OPTIN},  {"帮助", BOT_HELP},
    {"菜单", BOT_HELP},       {"help", BOT_HELP},       {"h", BOT_HELP},
};

/* Copies the next run of ASCII digits at *p (after spaces) into out (n
 * bytes); returns its length, 0 when none or when it does not fit. */
static size_t take_digits(const char **p, char *out, size_t n)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    size_t len = strspn(s, "0123456789");
    if (len == 0 || len >= n)
        return 0; /* *p stays: what follows is not this argument */
    *p = s + len;
    memcpy(out, s, len);
    out[len] = '\0';
    return len;
}

static bool starts(const char *s, const char *word, const char **rest)
{
    size_t n = strlen(word);
    if (strncmp(s, word, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

void bot_parse(const char *text, size_t len, struct bot_cmd *out)
{
    static struct norm zero;
    struct norm o = zero;
    memset(out, 0, sizeof *out);
    if (len > BOT_TEXT_MAX || !normalise(text, len, &o))
        return;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(o.s, words[i].word) == 0) {
            out->kind = words[i].kind;
            return;
        }
    const char *rest;
    if (starts(o.s, "报名", &rest) || starts(o.s, "bm", &rest)) {
        char num[12];
        while (*rest == ' ')
            rest++;
        starts(rest, "第", &rest); /* 报名第3场 */
        if (take_digits(&rest, num, 10)) {
            starts(rest, "场", &rest);
            starts(rest, "个", &rest);
            while (*rest == ' ')
                rest++;
            if (*rest)
                return; /* more than a number: not this command */
            out->event_id = 0;
            for (const char *d = num; *d; d++)
                out->event_id = out->event_id * 10 + (*d - '0');
        } else if (*rest) {
            return;
        }
        out->kind = BOT_SIGNUP;
        return;
    }
    if (starts(o.s, "绑定", &rest) || starts(o.s, "bd", &rest)) {
        char phone[16], code[16];
        size_t pl = take_digits(&rest, phone, sizeof phone);
        size_t cl = take_digits(&rest, code, sizeof code);
        while (*rest == ' ')
            rest++;
        if (*rest)
            return;
        out->kind = BOT_BIND;
        if (pl == 11)
            memcpy(out->phone, phone, 12);
        if (cl == 6)
            memcpy(out->code, code, 7);
    }
}

const char *bot_cmd_name(enum bot_cmd_kind kind)
{
    static const char *const names[] = {
        [BOT_UNKNOWN] = "unknown", [BOT_HELP] = "help",     [BOT_POINTS] = "points",
        [BOT_EVENTS] = "events",   [BOT_SIGNUP] = "signup", [BOT_BIND] = "bind",
        [BOT_UNBIND] = "unbind",   [BOT_OPTOUT] = "optout", [BOT_OPTIN] = "optin",
    };
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}
