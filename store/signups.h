/*
 * Sign-ups. A sign-up holds a place (confirmed) or waits for one
 * (waitlisted); cancelling a confirmed one promotes the first waitlisted.
 * A ticket is valid while its sign-up is not cancelled and its issue time is
 * the sign-up's current one (the ticket rule, store_int.h). Check-ins are in
 * store/checkins.h.
 *
 * A job's rc != 0 means nothing was recorded; a refusal by a rule of the
 * domain is rc KIOSKD_EREFUSED with job.why naming the rule (store/why.h).
 */
#ifndef KIOSKD_STORE_SIGNUPS_H
#define KIOSKD_STORE_SIGNUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_HASH_LEN 32
#define STORE_ENC_MAX 256

/* The personal data of a guest, already encrypted and hashed by the caller. */
struct store_person {
    unsigned char phone_hash[STORE_HASH_LEN];
    unsigned char name_hash[STORE_HASH_LEN]; /* keyed hash of the name's key (validate_name_key) */
    unsigned char phone_enc[64];
    size_t phone_enc_len;
    unsigned char name_enc[STORE_ENC_MAX];
    size_t name_enc_len;
    char name_mask[64];
    char phone_last4[5];
};

/* Signs up a guest, or returns the sign-up this phone already has when the
 * name is the same one (the same name_hash). Refusals: WHY_EVENT_NOT_FOUND,
 * WHY_EVENT_CANCELLED, WHY_SIGNUPS_CLOSED, WHY_ALREADY_SIGNED_UP (the phone
 * holds a sign-up for this event under another name, or under a name signed
 * up before names were hashed), WHY_SIGNUP_LIMIT (the phone holds
 * phone_limit sign-ups in events not ended). */
struct store_signup_new {
    struct store_job job;
    int64_t event_id;
    struct store_person who;
    char member_no[33]; /* "" when none */
    bool has_referrer;
    unsigned char referrer_hash[STORE_HASH_LEN];
    char source[8];   /* kiosk, bot, staff, call */
    char campaign[7]; /* an invitation's campaign code; "" when none (store/campaigns.h) */
    char consent_version[16];
    char kid[16];        /* key that will sign the ticket */
    int64_t now;         /* unix seconds */
    int64_t phone_limit; /* most sign-ups a phone holds in events not ended; 0: no limit */
    /* out */
    int64_t signup_id;
    char status[12]; /* confirmed, waitlisted */
    int64_t issued_at;
    char kid_used[16];
    char short_code[7];        /* 6 digits, unique within the event */
    bool existed;              /* the same phone had signed up already */
    int64_t waitlist_position; /* waitlisted: 1 for the next to be promoted; else 0 */
};
void store_signup_new_init(struct store_signup_new *j);

/* Keeps the digest of the ticket issued for a sign-up (core/ticket.h
 * ticket_digest), so that check-ins recognise it without ECDSA (store/checkins.h).
 * Written only while the sign-up still has that issue time and key and no
 * digest; otherwise it does nothing (a sign-up revived meanwhile has another
 * code). Losing it costs only speed: tickets without one are verified. */
struct store_ticket_digest {
    struct store_job job;
    int64_t signup_id;
    int64_t issued_at;
    char kid[16];
    unsigned char digest[STORE_HASH_LEN];
};
void store_ticket_digest_init(struct store_ticket_digest *j);

/* Cancels a sign-up (by staff, or by the guest holding its ticket: then
 * issued_at must match). Promotes the first waitlisted guest if a place frees.
 * Refusals: WHY_SIGNUP_NOT_FOUND, WHY_ALREADY_CANCELLED, WHY_CHECKED_IN, and by
 * ticket the ticket rule's (WHY_UNKNOWN_TICKET, WHY_TICKET_REPLACED, WHY_TICKET_CANCELLED). */
struct store_signup_cancel {
    struct store_job job;
    int64_t signup_id;
    int64_t event_id;      /* 0: any */
    int64_t issued_at;     /* 0: not by ticket */
    struct store_actor by; /* empty staff_id for the guest */
    /* out */
    int64_t out_event_id;
    int64_t promoted_signup_id; /* 0 when nobody was promoted */
};
void store_signup_cancel_init(struct store_signup_cancel *j);

/* One line of an event's roster. */
struct store_roster_row {
    int64_t signup_id;
    unsigned char name_enc[STORE_ENC_MAX];
    size_t name_enc_len;
    char name_mask[64];
    char phone_last4[5];
    unsigned char phone_enc[64];
    size_t phone_enc_len;
    char status[12];
    char source[8];
    int64_t checkin_id; /* 0 when not checked in */
    int64_t checkin_us;
};

/* Reads the roster of an event (not cancelled sign-ups), optionally only
 * phones ending in last4. New array in *rows (caller frees). */
int store_roster(struct store *s, int64_t event_id, const char *last4, size_t max,
                 struct store_roster_row **rows, size_t *n);

/* One line of an event's waitlist, in the order places are given. */
struct store_waitlist_row {
    int64_t signup_id;
    char name_mask[64];
    char phone_last4[5];
    int64_t position; /* 1 for the next to be promoted */
};

/* Reads the waitlist of an event in order (issued_at, id). New array in
 * *rows (caller frees). */
int store_waitlist(struct store *s, int64_t event_id, size_t max, struct store_waitlist_row **rows,
                   size_t *n);

/* Reads the sealed phone of a waitlisted sign-up of event_id into enc[cap]:
 * KIOSKD_ENOTFOUND when signup_id is not on that event's waitlist. */
int store_waitlist_phone(struct store *s, int64_t event_id, int64_t signup_id, unsigned char *enc,
                         size_t cap, size_t *len);

/* Applies the ticket rule (store_int.h) to a verified ticket's payload, for
 * serving its QR image: *why = WHY_NONE when it is valid, else the rule it
 * breaks. Returns 0 or a store error. */
int store_ticket_state(struct store *s, int64_t signup_id, int64_t event_id, int64_t issued_at,
                       enum store_why *why);
/* What the guest's own ticket page shows of a sign-up (masked). */
struct store_ticket {
    char status[12]; /* confirmed, waitlisted */
    char short_code[7];
    char name_mask[64];
};
/* The same rule, and when it holds the sign-up's view in *out (may be NULL). */
int store_ticket_view(struct store *s, int64_t signup_id, int64_t event_id, int64_t issued_at,
                      enum store_why *why, struct store_ticket *out);

/* Writes one audit line (for staff actions that change nothing, such as a
 * roster search). */
struct store_audit_only {
    struct store_job job;
    struct store_actor by;
    char action[32];
    char subject[64];
};
void store_audit_only_init(struct store_audit_only *j);

#endif
