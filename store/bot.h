/*
 * The chat bot's store: bind codes, bindings of chat identities to members,
 * the lock after wrong codes, the reply given to each delivery, and commands
 * per group and day. Chat identities and delivery keys arrive as keyed
 * hashes (the caller hashes them); replies are the caller's text, opaque here.
 */
#ifndef KIOSKD_STORE_BOT_H
#define KIOSKD_STORE_BOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/members.h"
#include "store/messages.h"
#include "store/signups.h"
#include "store/store.h"

#define STORE_REPLY_ID_LEN 32 /* hex digits of a bridge reply's id */

/* Sets member_no's one-time bind code (its keyed hash), replacing any
 * earlier one. Refusal: WHY_MEMBER_NOT_FOUND. Audited (bind_code). */
struct store_bind_code {
    struct store_job job;
    char member_no[MEMBER_NO_MAX + 1];
    unsigned char code_hash[STORE_HASH_LEN];
    int64_t expires_at;
    struct store_actor by;
};
void store_bind_code_init(struct store_bind_code *j);

/* What a bot turn changes. */
enum bot_op { BOT_OP_NONE, BOT_OP_BIND, BOT_OP_UNBIND, BOT_OP_OPTOUT, BOT_OP_OPTIN };

/* How a turn ended; the caller gives one reply per outcome it can have. */
enum bot_outcome {
    BOT_DONE,      /* the change was made (or BOT_OP_NONE) */
    BOT_NOT_BOUND, /* unbind, opt-out, opt-in: no member bound to this identity */
    BOT_BAD_CODE,  /* bind: no member with this phone, or not its code, or expired */
    BOT_LOCKED,    /* bind: too many wrong codes; locked_until says until when */
    BOT_OUTCOMES
};

/*
 * One message to the bot that is recorded: its change (op), its reply and
 * the delivery's key (has_key), so that the same delivery seen again gets the
 * stored reply and changes nothing (duplicate = true; reply then points at
 * stored). With group, the group's count of commands today goes up by one.
 */
struct store_bot_turn {
    struct store_job job;
    enum bot_op op;
    unsigned char identity_hash[STORE_HASH_LEN];
    bool wechat; /* the identity is a WeChat openid (else a bridge's sender) */
    bool has_key;
    unsigned char key_hash[STORE_HASH_LEN];
    char group[65]; /* "" when none */
    char day[11];   /* China date of the message, for the group count */
    int64_t now;    /* unix seconds */
    /* BOT_OP_BIND */
    unsigned char phone_hash[STORE_HASH_LEN];
    unsigned char code_hash[STORE_HASH_LEN];
    int bind_max_failures;
    int64_t bind_lock_seconds;
    /* a WeChat identity's openid, sealed (aad "openid"), kept with the
     * binding for template messages; unbinding deletes it with the binding */
    unsigned char openid_enc[STORE_ENC_MAX];
    size_t openid_enc_len;
    const char *replies[BOT_OUTCOMES]; /* the caller's, alive until done() */
    /* the WeChat reply as a chat_reply message, written with the turn, its
     * text the turn's reply (store/messages.h: held, or to go at once when
     * the passive reply is already past); NULL: none */
    struct store_msg_chat_reply *late;
    /* the bridge: the reply also kept as bot_replies row pending_id, for
     * GET /api/v1/bot/replies/{id} after a 202; "" for none */
    char pending_id[STORE_REPLY_ID_LEN + 1];
    /* out */
    enum bot_outcome outcome;
    bool duplicate;
    const char *reply; /* replies[outcome], or stored */
    char stored[2048];
    int64_t locked_until;
    char member_no[MEMBER_NO_MAX + 1]; /* bind: the member bound */
};
void store_bot_turn_init(struct store_bot_turn *j);

/*
 * 报名 N from the bot: the sign-up (store/signups.h) and, in its transaction,
 * its reply where it has to survive the sign-up's commit: as the WeChat
 * sender's held chat_reply message (late), as the bridge's bot_replies row
 * (pending_id), or both. text() writes the reply from the sign-up's outcome
 * (on the writer thread; arg is the caller's). Refusals are the sign-up's.
 */
struct store_bot_signup {
    struct store_job job;
    struct store_signup_new *signup;
    struct store_msg_chat_reply *late; /* NULL: none */
    char pending_id[STORE_REPLY_ID_LEN + 1];
    void (*text)(const struct store_bot_signup *j, char *out, size_t n);
    void *arg;
};
void store_bot_signup_init(struct store_bot_signup *j, struct store_signup_new *signup);

/* One read transaction on the loop's connection around the reads of one
 * message (the binding, the points, the events...): one snapshot, and the
 * file locks taken once rather than per statement. Every begin is followed
 * by an end before the loop goes on; a begin that fails leaves the reads in
 * their own transactions. */
void store_bot_reads_begin(struct store *s);
void store_bot_reads_end(struct store *s);

/* The bridge's reply kept as id (32 hex digits): 0 and out filled,
 * KIOSKD_ENOTFOUND, or an error (loop). */
int store_bot_reply(struct store *s, const char *id, char *out, size_t n);

/* The member bound to a chat identity: store_member_by_binding (store/members.h). */
/* Forgets the replies of deliveries, and the bridge's kept replies, older
 * than `before` (unix seconds): a channel retries within minutes. Out: how
 * many. */
struct store_bot_prune {
    struct store_job job;
    int64_t before;
    int64_t removed;
};
void store_bot_prune_init(struct store_bot_prune *j);

/* The reply stored for a delivery (loop): 0 and out filled, KIOSKD_ENOTFOUND, or an error. */
int store_bot_delivery(struct store *s, const unsigned char key_hash[STORE_HASH_LEN], char *out,
                       size_t n);

/* One group's commands on one China day. */
struct store_group_day {
    char group[65];
    char day[11]; /* YYYY-MM-DD */
    int64_t commands;
};

/* The commands per group and day from `from` to `to` (China dates, both
 * included), by group and then day, at most max rows (loop). 0 and *out (a
 * new array, caller frees; NULL when *n is 0) or an error. */
int store_bot_group_days(struct store *s, const char *from, const char *to, size_t max,
                         struct store_group_day **out, size_t *n);

#endif
