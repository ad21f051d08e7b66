/*
 * Staff accounts and their login sessions. PINs are stored only as argon2id
 * hashes, tokens only as SHA-256 hashes. Locking after wrong PINs is decided
 * on the writer thread, so concurrent attempts are counted exactly.
 */
#ifndef KIOSKD_STORE_STAFF_H
#define KIOSKD_STORE_STAFF_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct store_staff {
    char id[33];
    char name[65];
    char role[10];
    char pin_hash[192];
    int64_t failed;
    int64_t locked_until;
};

/* Reads staff account id. Returns 0 or KIOSKD_ENOTFOUND. */
int store_staff_get(struct store *s, const char *id, struct store_staff *out);

struct store_session {
    char staff_id[33];
    char role[10];
    char device[65];
    int64_t expires_at;
};
/* Looks up a session by token hash. Returns 0, KIOSKD_EAUTH (unknown, expired
 * or revoked) or KIOSKD_EIO. */
int store_session_get(struct store *s, const unsigned char hash[32], int64_t now,
                      struct store_session *out);

/* Adds a staff account. Refusals: WHY_STAFF_EXISTS. */
struct store_staff_add {
    struct store_job job;
    struct store_staff staff;
};
void store_staff_add_init(struct store_staff_add *j);

/* Records a login attempt whose PIN was already checked (pin_ok), from client
 * address addr, under the lock rule (login_run in store/staff.c: counted per
 * staff id and address, and per staff id over all addresses; unknown ids
 * alike). out.result: 0 (session created), KIOSKD_EAUTH (wrong PIN or unknown
 * staff), KIOSKD_ELOCKED (locked until locked_until). Failed attempts are
 * committed too: the job's rc is 0 unless the database failed. */
struct store_login {
    struct store_job job;
    char staff_id[33];
    char device[65];
    char addr[48];
    bool pin_ok;
    unsigned char token_hash[32];
    int64_t now, ttl, lock_after, lock_global, lock_seconds;
    /* out */
    int result;
    char role[10];
    int64_t expires_at;
    int64_t locked_until;
    bool known;             /* staff_id names an account */
    bool locked_now;        /* this attempt locked the id (at addr, or everywhere) */
    bool locked_everywhere; /* this attempt reached lock_global */
};

/* Reads whether staff_id (known or not) is locked for addr at now (read
 * connection, on the loop): *until is the lock's end, 0 when none. Returns 0
 * or a store error. */
int store_login_locked(struct store *s, const char *staff_id, const char *addr, int64_t now,
                       int64_t *until);

/* Lifts every lock of staff_id and forgets its wrong PINs, at every address
 * (`kioskd staff unlock`). out: cleared, the rows removed. Refusals:
 * WHY_STAFF_NOT_FOUND (no such account and nothing counted for the id). */
struct store_staff_unlock {
    struct store_job job;
    char target[33];
    struct store_actor by;
    int cleared;
};
void store_staff_unlock_init(struct store_staff_unlock *j);
void store_login_init(struct store_login *j);

/* Revokes the session with token_hash. Refusals: WHY_SESSION_NOT_FOUND. */
struct store_logout {
    struct store_job job;
    unsigned char token_hash[32];
    struct store_actor by;
};
void store_logout_init(struct store_logout *j);

/* Revokes every session of a staff member (an admin's action). rc:
 * WHY_STAFF_NOT_FOUND. out: how many sessions were revoked. */
struct store_sessions_revoke {
    struct store_job job;
    char target[33];
    struct store_actor by;
    int revoked;
};
void store_sessions_revoke_init(struct store_sessions_revoke *j);

#endif
