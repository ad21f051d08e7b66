/* Helpers shared by the handler files: ids, guests' personal data, times. */
#ifndef KIOSKD_HANDLERS_COMMON_H
#define KIOSKD_HANDLERS_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/jsonv.h"
#include "core/ticket.h"
#include "daemon/http.h"
#include "daemon/worker.h"
#include "store/signups.h"

struct pii;

#define CONSENT_VERSION "2026-11"

/* Validates the guest's name and phone fields of v (name may be optional) and
 * fills who: encrypted copies, the phone's keyed hash, masked forms. Field
 * errors go into v. Returns true when both were valid. */
bool guest_from_json(struct kioskd *k, struct jv *v, const char *name_key, const char *phone_key,
                     struct store_person *who);
/* Fills who from a name already checked with validate_name and a valid
 * mobile number: sealed copies, keyed hashes, masked forms. 0 or KIOSKD_ECRYPTO. */
int guest_person(struct kioskd *k, const char *name, const char *phone, struct store_person *who);
/* The same with the keys and random source of the calling thread (a worker's). */
int guest_person_with(struct pii *pii, struct rng *rng, const char *name, const char *phone,
                      struct store_person *who);
/* Seals the decimal text of an amount in fen under aad (members' AUM: "aum"),
 * and opens it again. 0 or KIOSKD_ECRYPTO. */
int fen_seal(struct kioskd *k, const char *aad, int64_t fen, unsigned char *out, size_t cap,
             size_t *len);
int fen_open(struct kioskd *k, const char *aad, const unsigned char *in, size_t len, int64_t *fen);
/* The same with the key context p (a worker's own: core/pii.h, one thread at a time). */
int fen_open_with(struct pii *p, const char *aad, const unsigned char *in, size_t len,
                  int64_t *fen);
/* Hashes a phone number with the personal-data key. */
void phone_hash(struct kioskd *k, const char *phone, unsigned char out[32]);

/* A JSON string of t (unix seconds) in China time (RFC 3339). */
json_t *json_time(int64_t t);
/* The same for microseconds. */
json_t *json_time_us(int64_t t_us);
/* Current unix time in seconds. */
int64_t now_s(void);
/* Checks a display text field of v (an event's title, a redemption's item):
 * up to max characters (at least 1 when required), valid UTF-8, no control
 * or formatting characters; copies it whole into out[n] (n holds max
 * characters of 4 bytes and the NUL). Failures go into v. */
void text_field(struct jv *v, const char *key, bool required, size_t max, char *out, size_t n);

struct points_rules;
/* The points rules of the configuration ([points]). */
void points_rules_of(const struct kioskd *k, struct points_rules *r);
/* Today's China date, YYYY-MM-DD. */
void today_china(char out[11]);
/* The unix time of the midnight (China) that starts the China date s
 * (YYYY-MM-DD) into *t; false when s is NULL or not a date. */
bool china_date_start(const char *s, int64_t *t);
/* The query's ?from=YYYY-MM-DD&to=YYYY-MM-DD, China dates both included,
 * into from and to (11 bytes each): to defaults to today and from to
 * days_default - 1 days before to. False when it answered r with 422
 * invalid_query: a date that is not one, from after to, or more than
 * days_max days. */
bool query_date_range(struct req *r, int64_t days_default, int64_t days_max, char from[11],
                      char to[11]);
/* A member's tier as shown today: the trial tier with its end while a trial
 * runs (core/points.h), into out (n bytes). Returns out. */
char *tier_shown_today(const char *tier, const char *trial_tier, const char *trial_until, char *out,
                       size_t n);
/* Takes a token for key from rl (NULL: no limit). Returns 0, or the seconds
 * to wait (for Retry-After). */
int limit_take(struct ratelimit *rl, const char *key);

/* A ticket code checked on a worker (ECDSA verification is too slow for the loop). */
struct ticket_check {
    struct work work;
    char code[TICKET_CODE_MAX + 1];
    struct ticket_payload p;      /* filled when rc == 0 */
    int rc;                       /* ticket_verify's answer */
    char kid[TICKET_KID_LEN + 1]; /* the key the code names */
    char pem[256]; /* that key's public PEM when it was pulled from HQ after the workers
                      started (ticket_check_pulled_key); "" else */
};
/* Prepares checking code (a scanner's surrounding whitespace and line ending
 * dropped); done runs on the loop. Submit t->work with req_submit_work. */
void ticket_check_init(struct ticket_check *t, const char *code, work_done_fn done);
/* Looks up (store, loop thread) the key the code names among the keys pulled
 * from HQ, when it is not this daemon's own, so that the worker verifies a
 * key pulled after it started. */
void ticket_check_pulled_key(struct ticket_check *t, struct kioskd *k);
/* The worker side, for work that verifies and then does more. */
void ticket_check_verify(struct ticket_check *t, struct worker_ctx *ctx);
/* Answers a ticket that failed to verify (rc, not 0): 503 when memory ran short
 * (nothing is wrong with the ticket), else the bad-ticket refusal. */
void ticket_check_refuse(struct req *r, int rc);

struct store_event;
struct store_roster_row;

/* Reads the event of the route's {id}; false when it answered r instead
 * (404 event_not_found, or the store's error). */
bool event_of_path(struct req *r, struct store_event *e);

/* The masked phone of a roster row (138****1234) into out (n bytes). */
void roster_phone_masked(struct kioskd *k, const struct store_roster_row *row, char *out, size_t n);

/* Fills an audit-only job for r's staff member and device: action, and the
 * subject "kind:id". */
void audit_job_fill(struct store_audit_only *job, struct req *r, const char *action,
                    const char *kind, int64_t id);

/*
 * An audited read: a read of people (roster, no-shows, waitlist) whose answer
 * is built in fill and sent once its audit line is queued (route_write's
 * audits_read, [store] read_audit = queued) or has committed (phone reveals,
 * read_audit = committed). A route's route_write uses audited_read_reply and
 * audited_read_release with a context that starts with struct audited_read;
 * fill builds doc and calls audited_read_audit.
 */
struct audited_read {
    struct write_ctx w;
    struct store_audit_only job;
    json_t *doc; /* the answer, handed over by the reply */
};
/* Fills c's audit job (as audit_job_fill) and makes it the write's job. */
void audited_read_audit(struct audited_read *c, struct req *r, const char *action, const char *kind,
                        int64_t id);
json_t *audited_read_reply(struct write_ctx *w, int *status);
void audited_read_release(struct write_ctx *w);

#endif
