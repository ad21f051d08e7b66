/*
 * What kinds of message kioskd sends, through which channels, and which
 * template variables each kind provides. Pure data and lookups: no I/O.
 *
 * Transactional kinds (a sign-up's confirmation, a ticket link the guest asked
 * for) go at once and ignore quiet hours, the daily cap and opt-out; every
 * other kind waits those out (checked when it is sent).
 */
#ifndef KIOSKD_MSGKIND_H
#define KIOSKD_MSGKIND_H

#include <stdbool.h>
#include <stddef.h>

enum msg_kind {
    MSG_CONFIRMATION = 0,
    MSG_DAY_BEFORE,
    MSG_TWO_HOURS,
    MSG_THANK_YOU,
    MSG_NO_SHOW,
    MSG_BIRTHDAY,
    MSG_MATURITY,
    MSG_POINTS,
    MSG_STAFF_SUMMARY,
    MSG_TICKET_LINK,
    MSG_CHAT_REPLY, /* a chat reply past WeChat's 5 s: text, no template */
    MSG_INVITATION, /* a campaign's step (store/campaigns.h) */
    MSG_FESTIVAL,   /* a festival's greeting ([campaigns] festivals) */
    MSG_KINDS
};

enum msg_channel { MSG_SMS = 0, MSG_LOG, MSG_WECOM, MSG_WECHAT, MSG_CHANNELS };

/* The kind's name as stored and in templates/ ("day_before"); NULL when out of range. */
const char *msg_kind_name(enum msg_kind k);
/* The kind of a name, or -1. */
int msg_kind_from(const char *name, size_t len);
/* The channel's name ("sms"); NULL when out of range. */
const char *msg_channel_name(enum msg_channel c);
/* The channel of a name, or -1. */
int msg_channel_from(const char *name, size_t len);
/* True for kinds sent at once, past quiet hours, the daily cap and opt-out. */
bool msg_kind_transactional(enum msg_kind k);
/* True when name (len bytes; its first dotted part counts) is a variable the
 * kind provides to its templates. */
bool msg_kind_has_var(enum msg_kind k, const char *name, size_t len);
/* The variables of a kind, space separated (for messages and docs). */
const char *msg_kind_vars(enum msg_kind k);

#endif
