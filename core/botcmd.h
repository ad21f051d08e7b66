/*
 * The chat bot's commands: what a member typed, read as one command with its
 * arguments. Tolerant of what chat users type: full-width spaces and digits,
 * punctuation around the words, and the common variants (查积分, 我的积分,
 * 积分查询 are all 积分). Pure code.
 */
#ifndef KIOSKD_CORE_BOTCMD_H
#define KIOSKD_CORE_BOTCMD_H

#include <stddef.h>
#include <stdint.h>

enum bot_cmd_kind {
    BOT_UNKNOWN = 0,
    BOT_HELP,   /* 帮助 */
    BOT_POINTS, /* 积分 */
    BOT_EVENTS, /* 活动 */
    BOT_SIGNUP, /* 报名 N */
    BOT_BIND,   /* 绑定 <phone> <code> */
    BOT_UNBIND, /* 解绑 */
    BOT_OPTOUT, /* 退订 */
    BOT_OPTIN,  /* 订阅 */
};

struct bot_cmd {
    enum bot_cmd_kind kind;
    int64_t event_id; /* BOT_SIGNUP: N (0 when missing) */
    char phone[12];   /* BOT_BIND: 11 digits, or "" */
    char code[7];     /* BOT_BIND: 6 digits, or "" */
};

/* The longest text read as a command, in bytes; longer texts are unknown. */
#define BOT_TEXT_MAX 512

/* Reads text (len bytes, any UTF-8; not NUL-terminated necessarily) into
 * out. Always fills out: an unreadable text is BOT_UNKNOWN. BOT_SIGNUP and
 * BOT_BIND keep what arguments they found (the reply says what is missing). */
void bot_parse(const char *text, size_t len, struct bot_cmd *out);

/* The name of a kind for logs and statistics ("points", "signup"...). */
const char *bot_cmd_name(enum bot_cmd_kind kind);

#endif
