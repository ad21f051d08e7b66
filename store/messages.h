/*
 * The message queue (migration 0011 draws a message's life): the scheduler's
 * job that derives what to send from events, sign-ups, members and
 * maturities; the claim that applies the sending rules and hands due messages
 * to their channel; the settlement of each attempt; and the staff's reads and
 * retries. Knows SQL, not channels: what a message says is rendered on the
 * loop from the variables the claim reads.
 *
 * Invariants:
 *  M1. A message is queued once per dedup_key (unique index): the scheduler
 *      may derive it again at every run, after a restart or a clock jump.
 *  M2. Only the claim moves queued -> sending, and it checks quiet hours,
 *      the daily cap, opt-out and the WeCom rate at that moment, in the
 *      writer's transaction (rules are checked when sending, not queuing).
 *  M3. sent is final: nothing moves a message out of it.
 *  M4. A message found sending at start (a crash between sending and
 *      recording) is queued again with the same uid.
 */
#ifndef KIOSKD_STORE_MESSAGES_H
#define KIOSKD_STORE_MESSAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/members.h"
#include "store/signups.h"
#include "store/store.h"

/* Derives and queues the messages whose time has come (store_tx_now). With
 * recover, messages left sending are queued again first (M4), and held chat
 * replies released. person_channel
 * is "sms" or "log" (NULL: no messages to people); staff_channel "wecom" or
 * "log" (NULL: none); wechat: members bound with an openid get WeChat
 * template messages for the kinds that have one (wechat_kinds, a bit per
 * enum msg_kind). */
struct store_msg_schedule {
    struct store_job job;
    bool recover;
    const char *person_channel, *staff_channel;
    bool wechat;
    unsigned wechat_kinds;
    int64_t maturity_days;
    unsigned festivals; /* bit per festival greeted (core/campaign.h) */
    /* only what sign-ups whose id is above signups_after are owed
     * (confirmation, reminders): a sign-up's own run, whose cost does not grow
     * with the sign-ups before it (the full run, every [messages] interval,
     * still sweeps every sign-up of the day and of the events near) */
    bool signups_only;
    int64_t signups_after;
    /* out */
    int64_t queued, recovered;
    int64_t signups_max; /* the highest sign-up id when the run was taken */
    bool more;           /* work was left for the next run (a campaign's large step) */
};
void store_msg_schedule_init(struct store_msg_schedule *j);

/* A message handed to its channel by a claim. */
struct store_msg_out {
    int64_t id;
    char uid[33];
    int kind, channel; /* enum msg_kind, enum msg_channel */
    bool transactional;
    int64_t attempts;                       /* including this one */
    unsigned char phone_enc[STORE_ENC_MAX]; /* sealed (aad "phone"); len 0: none */
    size_t phone_enc_len;
    unsigned char openid_enc[STORE_ENC_MAX]; /* sealed (aad "openid"); len 0: none */
    size_t openid_enc_len;
    int64_t ticket_event, ticket_signup, ticket_issued; /* signup 0: no ticket */
    char kid[16];
    json_t *data; /* the template's variables but ticket_link (owned) */
};

/* Takes up to limit queued messages due now and applies the rules: opted-out
 * people's messages are skipped; in quiet hours (quiet_from == quiet_to: none;
 * minutes of the China day) and past daily_cap a message waits; over
 * wecom_per_minute a WeCom message waits; a WeChat message of a member no
 * longer bound goes by person_channel. The others become sending and are
 * returned in out[0, n) (the caller frees each data, then out). */
struct store_msg_claim {
    struct store_job job;
    int limit;
    int quiet_from, quiet_to; /* minutes after China midnight */
    int64_t daily_cap;
    int64_t wecom_per_minute;
    /* "sms" or "log": takes a WeChat message whose member is no longer bound
     * to an openid (the row's channel changes); NULL: such a message is
     * skipped (not_bound) */
    const char *person_channel;
    /* out */
    struct store_msg_out *out;
    int n;
    int64_t deferred, skipped;
};
void store_msg_claim_init(struct store_msg_claim *j);
/* Frees what a claim returned. */
void store_msg_claim_release(struct store_msg_claim *j);

enum store_msg_outcome {
    MSG_OUT_SENT,    /* the channel accepted it */
    MSG_OUT_RETRY,   /* try again after delay seconds */
    MSG_OUT_FAILED,  /* refused for good, or no attempts left */
    MSG_OUT_RELEASE, /* not sent (the daemon is stopping): queued again at once */
};

/* Records how an attempt ended (only for a message that is sending). */
struct store_msg_settle {
    struct store_job job;
    int64_t id;
    enum store_msg_outcome outcome;
    int64_t delay; /* seconds, MSG_OUT_RETRY */
    int parts;     /* pieces it went out in (a long SMS) */
    char error[160];
};
void store_msg_settle_init(struct store_msg_settle *j);

/* Queues a failed message again, with a fresh count of attempts. Refusals:
 * WHY_MESSAGE_NOT_FOUND, WHY_MESSAGE_NOT_FAILED. Audited (message_retry). */
struct store_msg_retry {
    struct store_job job;
    int64_t id;
    struct store_actor by;
};
void store_msg_retry_init(struct store_msg_retry *j);

/* Turns off a member's non-transactional messages. Refusal:
 * WHY_MEMBER_NOT_FOUND. Audited (member_unsubscribe). */
struct store_member_unsubscribe {
    struct store_job job;
    char member_no[MEMBER_NO_MAX + 1];
    struct store_actor by;
    bool was_opted_out; /* out */
};
void store_member_unsubscribe_init(struct store_member_unsubscribe *j);

/* Queues the ticket link of a sign-up by SMS (kind ticket_link), for the
 * ticket just issued: the ticket rule must hold for (signup_id, event_id,
 * issued_at), its event must not be cancelled, the sign-up must be at most
 * max_age seconds old, and at most max_sends such messages exist for it.
 * Refusals: the ticket rule's, WHY_EVENT_CANCELLED, WHY_TICKET_SMS_LATE,
 * WHY_TICKET_SMS_LIMIT. On success phone_enc holds the recipient's sealed
 * phone (aad "phone"), for the masked answer. */
struct store_msg_ticket_link {
    struct store_job job;
    int64_t signup_id, event_id, issued_at;
    const char *channel; /* "sms" or "log" */
    int64_t max_age, max_sends;
    /* out */
    int64_t message_id;
    int64_t sends; /* ticket links of the sign-up, this one included */
    unsigned char phone_enc[STORE_ENC_MAX];
    size_t phone_enc_len;
};
void store_msg_ticket_link_init(struct store_msg_ticket_link *j);

/* Queues a chat reply that missed WeChat's 5 seconds (kind chat_reply,
 * channel wechat, transactional): the sealed openid and the text are kept in
 * the message itself. key_hash is the delivery's keyed hash: a delivery has
 * one reply message. With hold, the message is held: it waits hold seconds
 * (queued, next_at in the future) for store_msg_chat_settle to cancel it (the
 * passive reply went out) or release it, and goes by itself when nobody did
 * (a failed job, a crash: the next start releases every held reply at once).
 * A delivery's message written again (a later job of the same command) gets
 * the new text and the earlier of the two times while it is still queued;
 * queued is false when nothing was written (it was sent or cancelled). */
#define STORE_CHAT_REPLY_MAX 8192 /* bytes of text */
struct store_msg_chat_reply {
    struct store_job job;
    unsigned char key_hash[STORE_HASH_LEN], person_hash[STORE_HASH_LEN];
    unsigned char openid_enc[STORE_ENC_MAX]; /* sealed (aad "openid") */
    size_t openid_enc_len;
    char text[STORE_CHAT_REPLY_MAX + 1];
    int64_t hold; /* seconds; 0: send at once */
    bool queued;  /* out */
};
void store_msg_chat_reply_init(struct store_msg_chat_reply *j);

/* Settles a held chat reply (key_hash, the delivery's): answered cancels it
 * (deleted: the passive reply carried it, and a message never sent needs no
 * trace), else it is released to go at once. Only a message still queued
 * changes (settled: whether one did). */
struct store_msg_chat_settle {
    struct store_job job;
    unsigned char key_hash[STORE_HASH_LEN];
    bool answered;
    bool settled; /* out */
};
void store_msg_chat_settle_init(struct store_msg_chat_settle *j);

/* One maturity of a member's product (import). */
struct store_maturity {
    char member_no[MEMBER_NO_MAX + 1];
    char product[401]; /* up to 100 characters of UTF-8 */
    int64_t amount;    /* fen */
    char matures_on[11];
    int line; /* in the CSV */
};
/* The source of the import's rows, called on the writer thread inside the
 * job: fills m and returns 1, returns 0 at the end, or a negative KIOSKD_E*
 * code (the source keeps its own message) to roll the whole import back. */
typedef int (*maturity_source_fn)(void *arg, struct store_maturity *m);
/* Imports maturities (all or none, one transaction): an unknown member
 * refuses the whole import with WHY_MEMBER_NOT_FOUND and bad_line set. A
 * maturity is (member, product, matures_on): one seen before keeps its row
 * (and the reminders already queued for it) and takes the new amount; another
 * date for the same product is another maturity. One audit line
 * (import_maturities). */
struct store_maturities_import {
    struct store_job job;
    maturity_source_fn next;
    void *arg;
    /* out */
    int bad_line;
    int64_t added, updated;
};
void store_maturities_import_init(struct store_maturities_import *j);

/* One message as the staff's list shows it (no personal data but the
 * recipient's last four digits). */
struct store_msg_row {
    int64_t id, attempts, due_at, next_at, sent_at, event_id, signup_id;
    char uid[33], kind[16], channel[8], status[8], error[160], last4[5];
    char member_no[MEMBER_NO_MAX + 1];
    int parts;
};
/* Reads up to max messages, newest first, optionally of one status and kind
 * ("" for any). New array in *rows (caller frees). */
int store_msg_list(struct store *s, const char *status, const char *kind, size_t max,
                   struct store_msg_row **rows, size_t *n);
/* Counts messages by status (queued, sending, sent, failed, skipped). */
int store_msg_counts(struct store *s, int64_t counts[5]);

/* Messages of one channel for a day [from, to) (unix seconds): due by its end
 * and not sent yet, sent in it, failed that were due in it. */
#define STORE_MSG_CHANNELS 8
struct store_msg_today {
    char channel[12];
    int64_t due, sent, failed;
};
/* Fills out (up to STORE_MSG_CHANNELS, by channel name); loop only. */
int store_msg_today(struct store *s, int64_t from, int64_t to, struct store_msg_today *out, int *n);

/* A channel's stored state (WeChat's token): 0 and value/expires_at set,
 * KIOSKD_ENOTFOUND, or an error (loop). */
int store_channel_state(struct store *s, const char *name, char *value, size_t n,
                        int64_t *expires_at, int64_t *updated_at);
/* Sets a channel's state. */
struct store_channel_put {
    struct store_job job;
    char name[32];
    char value[1200];
    int64_t expires_at;
};
void store_channel_put_init(struct store_channel_put *j);

#endif
