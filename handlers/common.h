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

/* Parses a positive decimal id (at most 18 digits); -1 when it is not one. */
int64_t parse_id(const char *s);
/* Answers 404 {code} when the path parameter name is not an id; else returns it. */
int64_t req_id_param(struct req *r, const char *name, const char *code);

/* Parses the body as a JSON object into v; answers 400 and returns false when
 * it is not one. Call jv_free(v) either way. */
bool req_body_json(struct req *r, struct jv *v);
/* Answers 422 with v's field errors; returns true when there were any. */
bool req_fields_failed(struct req *r, struct jv *v);

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

/* Maps a store status and why-string to the answer: 404/409/410 with why as
 * the code when given, else the generic answer. */
void req_fail_why(struct req *r, int rc, const char *why, const char *message);

#endif
