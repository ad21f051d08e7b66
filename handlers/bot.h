/*
 * The chat bot, shared by its channels: the JSON bridge (handlers/bot.c) and
 * the WeChat callback. A channel hands over one message; the bot reads the
 * command, answers from the loop's reads or through one store turn (which
 * records the delivery's reply, so a delivery seen again gets the same reply
 * and changes nothing), and calls the channel's answer function once with the
 * reply text, or with NULL when the request has to fail (already answered).
 */
#ifndef KIOSKD_HANDLERS_BOT_H
#define KIOSKD_HANDLERS_BOT_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "core/pii.h"
#include "daemon/http.h"

#define BOT_ID_MAX 128 /* bytes of a sender id (an openid is 28) */

struct bot_msg {
    bool wechat;      /* from is a WeChat openid; else a bridge's sender id */
    const char *from; /* 1 to BOT_ID_MAX bytes */
    const char *to;   /* the channel's own id, handed back (WeChat: ToUserName); may be NULL */
    const char *text; /* what was typed (len bytes) */
    size_t len;
    const char *group; /* a group's id for statistics (<= 64 bytes), or NULL */
    const char *key;   /* the delivery's key (WeChat: MsgId, or From+CreateTime), or NULL */
    bool greet;        /* a subscribe event: the greeting, whatever text says */
    int flags;         /* the channel's, handed back */
};

/* What a channel gets back with the reply. */
struct bot_reply_to {
    char from[BOT_ID_MAX + 1], to[BOT_ID_MAX + 1];
    int flags;
};

typedef void (*bot_answer_fn)(struct req *r, const struct bot_reply_to *to, const char *reply);

/* Handles m for request r; answer runs exactly once while the client is
 * there (at once, or after the store or a worker). */
void bot_handle(struct req *r, const struct bot_msg *m, bot_answer_fn answer);

/* Where the commands are answered from, chosen at start-up (k->bot): a
 * branch's own store (bot_branch, the default), or HQ's data on SQLite or
 * PostgreSQL (bot_hq, handlers/hqbot.c). The channels (WeChat, the bridge)
 * and the commands' words (core/botcmd.h) are the same for both. */
struct bot_backend {
    const char *name;
    void (*handle)(struct req *r, const struct bot_msg *m, bot_answer_fn answer);
};
extern const struct bot_backend bot_branch, bot_hq;

/* What both backends say (handlers/bot.c). */
extern const char bot_too_fast[], bot_bind_usage[], bot_signup_usage[];
/* "12月8日 周二 14:00" for unix time t, China time. */
void bot_day_time(int64_t t, char *out, size_t n);
/* An amount of fen as people say it: "3.5万元" from 10,000 CNY up, else "860元". */
void bot_amount_text(int64_t fen, char *out, size_t n);
/* Hashes "what:text" with p's keyed hash (a chat identity, a delivery key, a bind code). */
void bot_keyed(const struct pii *p, const char *what, const char *text, unsigned char out[32]);
/* A keyed hash as 64 lowercase hex digits and a NUL (the store's keys at HQ). */
void bot_hex(const unsigned char mac[32], char out[65]);
/* Whether the rate limit of the identity (its hash) is over; counts it. */
bool bot_too_many(struct kioskd *k, const unsigned char identity[32]);
/* Frees the replies kept in memory for repeated deliveries (at exit). */
void bot_cache_free(struct kioskd *k);

#endif
