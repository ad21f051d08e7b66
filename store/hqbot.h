/*
 * The chat bot's data at HQ (`kioskd hq`, docs/wechat.md "The bot at HQ"):
 * one store job per message, on SQLite or PostgreSQL (store/hqdb.h), that
 * reads what the command needs from HQ's data (members imported at HQ,
 * balances, the events of every branch), makes its change (a binding, a
 * sign-up through store_hq_signup_tx) and keeps the reply of the delivery, all
 * in one transaction. Chat identities, delivery keys and bind codes arrive
 * as keyed hashes under HQ's key (64 hex digits); the reply is the caller's
 * text (text(), run on the storage thread once the command's outcome is known).
 *
 * Invariants (tests/integration/test_hq_bot.py):
 *  B1. A delivery key is answered once: the same key again gets the kept
 *      reply and changes nothing, whichever HQ process it reaches.
 *  B2. An identity sees a member's data only once bound to it with the
 *      member's phone and a one-time code (store_hq_bind_code).
 *  B3. A refused bind changes nothing but the identity's failure count and
 *      the phone's: 10 wrong codes naming one phone, from any senders,
 *      burn that phone's live codes (as at a branch), so that many senders
 *      together cannot guess one member's code.
 */
#ifndef KIOSKD_STORE_HQBOT_H
#define KIOSKD_STORE_HQBOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/hq.h"
#include "store/store.h"

#define HQ_BOT_LISTED 5   /* events listed by 活动 */
#define HQ_BOT_REPLY 2048 /* bytes of a reply, with its NUL */

/* What a message asks of HQ's data. */
enum hq_bot_op {
    HQ_BOT_NONE,   /* nothing read (帮助, a branch-only command, the greeting) */
    HQ_BOT_POINTS, /* the bound member, its points and AUM */
    HQ_BOT_EVENTS, /* the next events of every branch */
    HQ_BOT_SIGNUP, /* signs the bound member up for event number event_no */
    HQ_BOT_BIND,   /* binds the identity: phone and code_hash */
    HQ_BOT_UNBIND, /* forgets the identity's binding */
};

enum hq_bot_outcome {
    HQ_BOT_DONE,
    HQ_BOT_NOT_BOUND, /* points, sign-up, unbind: no member bound to the identity */
    HQ_BOT_BAD_CODE,  /* bind: no such code, expired, or not that member's phone */
    HQ_BOT_LOCKED,    /* bind: too many wrong codes in a row */
    HQ_BOT_NO_EVENT,  /* sign-up: no event of that number, or it is over */
};

/* An event as HQ knows it, numbered for the bot. */
struct hq_bot_event {
    int64_t no;                     /* the number 报名 takes */
    char device[HQ_DEVICE_MAX + 1]; /* the branch it takes place at */
    int64_t event_id;               /* its id at that branch */
    char title[404], venue[404];    /* 100 characters of UTF-8 */
    int64_t starts_at;              /* unix seconds */
};

struct store_hq_bot {
    struct store_job job;
    const struct store_hq_crypto *crypto;
    enum hq_bot_op op;
    char identity[65]; /* keyed hash of the sender */
    char key[65];      /* keyed hash of the delivery, or "" */
    /* HQ_BOT_BIND */
    char phone[16];     /* in clear: wiped by the submitter */
    char phone_key[65]; /* keyed hash of the phone: its wrong codes, from any sender */
    char code_hash[65];
    int max_failures;
    int64_t lock_seconds;
    /* HQ_BOT_SIGNUP: the event's number; signup has the caller's kid,
     * public_pem, consent_version and crypto, the store the rest */
    int64_t event_no;
    struct store_hq_signup *signup;
    /* the reply from what the job found (storage thread; arg is the caller's) */
    void (*text)(struct store_hq_bot *j, char *out, size_t n);
    void *arg;
    /* out */
    bool duplicate; /* the delivery was answered before: reply is that answer */
    enum hq_bot_outcome outcome;
    char member_no[33];
    char name_masked[64];
    int64_t aum_fen; /* -1: not known */
    int64_t points;
    int64_t locked_until;
    struct hq_bot_event events[HQ_BOT_LISTED]; /* HQ_BOT_EVENTS; the event of HQ_BOT_SIGNUP */
    size_t nevents;
    char reply[HQ_BOT_REPLY];
};
void store_hq_bot_init(struct store_hq_bot *j);

/* `kioskd hq bind-code MEMBER_NO`: a one-time bind code for member_no, its
 * keyed hash, valid until expires_at; replaces the member's earlier codes.
 * KIOSKD_ENOTFOUND when HQ has no such member. */
struct store_hq_bind_code {
    struct store_job job;
    char member_no[33];
    char code_hash[65];
    int64_t expires_at; /* unix seconds */
};
void store_hq_bind_code_init(struct store_hq_bind_code *j);

#endif
