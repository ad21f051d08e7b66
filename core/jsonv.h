/*
 * Reading JSON request bodies: parse one object, then pull typed fields out of
 * it, collecting a message per bad field (the "fields" of the contract's error
 * body). Pure: no I/O. Built on jansson.
 */
#ifndef KIOSKD_JSONV_H
#define KIOSKD_JSONV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jv {
    json_t *root;    /* the parsed object; owned */
    json_t *fields;  /* {"field":"message"} for bad fields, NULL while none; owned */
    char error[160]; /* what was wrong when parsing failed */
};

/* Makes jansson allocate through a wrapper that notes a failed allocation, so that
 * jv_parse and jv_short_of_memory can tell running out of memory from bad input.
 * Call once at start, before any thread uses jansson. */
void jv_setup(void);
/* True when one of jansson's allocations on this thread failed since the last call
 * (which clears it). Always false without jv_setup. */
bool jv_short_of_memory(void);

/* Parses body (len bytes) as one JSON object, duplicate keys refused.
 * Returns 0, KIOSKD_EMALFORMED (v->error says why) or KIOSKD_ENOMEM. Call jv_free
 * either way. */
int jv_parse(struct jv *v, const char *body, size_t len);
/* Frees what jv_parse and the getters allocated. */
void jv_free(struct jv *v);
/* Zeroes every string value of the parsed body (before jv_free, for bodies
 * that carry a secret). */
void jv_wipe(struct jv *v);

/* Records a failure for field key (the first message per field wins). */
void jv_fail(struct jv *v, const char *key, const char *message);
/* Returns true when no field has failed. */
bool jv_ok(const struct jv *v);

/* Returns the string at key (owned by v), or NULL when absent or invalid (then
 * a failure is recorded if required, or if present with the wrong type or a
 * length in bytes outside [min_len, max_len]). */
const char *jv_str(struct jv *v, const char *key, bool required, size_t min_len, size_t max_len);
/* Returns true and sets *out when key is an integer within [min, max]. */
bool jv_int(struct jv *v, const char *key, bool required, int64_t min, int64_t max, int64_t *out);
/* Returns true and sets *out when key is a boolean. */
bool jv_bool(struct jv *v, const char *key, bool required, bool *out);

#endif
