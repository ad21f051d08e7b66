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

#define CONSENT_VERSION "2026-11"

/* Validates the guest's name and phone fields of v (name may be optional) and
 * fills who: encrypted copies, the phone's keyed hash, masked forms. Field
 * errors go into v. Returns true when both were valid. */
bool guest_from_json(struct kioskd *k, struct jv *v, const char *name_key, const char *phone_key,
                     struct store_person *who);
/* Hashes a phone number with the personal-data key. */
void phone_hash(struct kioskd *k, const char *phone, unsigned char out[32]);

/* A JSON string of t (unix seconds) in China time (RFC 3339). */
json_t *json_time(int64_t t);
/* The same for microseconds. */
json_t *json_time_us(int64_t t_us);
/* Current unix time in seconds. */
int64_t now_s(void);
/* Takes a token for key from rl (NULL: no limit). Returns 0, or the seconds
 * to wait (for Retry-After). */
int limit_take(struct ratelimit *rl, const char *key);

/* A ticket code checked on a worker (ECDSA verification is too slow for the loop). */
struct ticket_check {
    struct work work;
    char code[TICKET_CODE_MAX + 1];
    struct ticket_payload p; /* filled when rc == 0 */
    int rc;                  /* ticket_verify's answer */
};
/* Prepares checking code (a scanner's surrounding whitespace and line ending
 * dropped); done runs on the loop. Submit t->work with req_submit_work. */
void ticket_check_init(struct ticket_check *t, const char *code, work_done_fn done);
/* The worker side, for work that verifies and then does more. */
void ticket_check_verify(struct ticket_check *t, struct worker_ctx *ctx);

#endif
