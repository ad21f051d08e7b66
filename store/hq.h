/*
 * The storage of `kioskd hq`, the reference HQ server: devices, the entries
 * branches push, the changes they pull, and the signatures already seen.
 * Knows SQL and nothing of HTTP or of the signature scheme.
 *
 * Every operation is a store job, so that the HTTP loop never waits on the
 * database: a request's job runs on the storage thread and its done() answers
 * on the loop. That is the whole interface a backend implements (SQLite
 * here, on the store's writer thread with group commit); the jobs carry what
 * the storage cannot know itself as callbacks (struct store_hq_crypto): how
 * a request's signature is checked against a device's sealed secret, and how
 * personal data is sealed and unsealed with HQ's key. They run on the storage
 * thread only.
 *
 * Invariants (checked by tests/integration/test_hq.py):
 *  H1. An entry id is stored at most once (primary key); a repeated push
 *      stores nothing new and answers the same acked_through.
 *  H2. A device's acked_through is the highest n such that its entries of
 *      seq 1..n are all stored; it never goes back.
 *  H3. A signature is accepted once (hq_seen_sigs' primary key), in the same
 *      transaction as what the request changes.
 *  H4. A refused request (unknown device, bad signature, replay) changes
 *      nothing but the device's failure count.
 *  H5. A change made from a device's push (hq_changes.device) is served to
 *      every other device and never back to that one.
 */
#ifndef KIOSKD_STORE_HQ_H
#define KIOSKD_STORE_HQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

#define HQ_DEVICE_MAX 64
/* HQ's key of an event: an import's key, or DEVICE/ID (store/hq_migrations/0004) */
#define HQ_EVENT_KEY_MAX 200
#define HQ_SIG_HEX 64
#define HQ_AREA_MAX 64 /* bytes of a device's area */

/* How a request ended at the storage (the handler maps it to a status). */
enum hq_verdict {
    HQ_OK = 0,
    HQ_UNKNOWN_DEVICE, /* 401 */
    HQ_BAD_SIGNATURE,  /* 401 */
    HQ_REPLAYED,       /* 401: the signature was seen before */
    HQ_MALFORMED,      /* 400: the body is not what the protocol says */
    HQ_EXISTS,         /* device add: the id is taken */
};

/* A request's credentials as the loop read them from its Authorization header. */
struct store_hq_auth {
    char device[HQ_DEVICE_MAX + 1];
    int64_t ts;               /* the request's timestamp, unix seconds */
    char sig[HQ_SIG_HEX + 1]; /* lowercase hex */
    int64_t window;           /* seconds: seen signatures older than twice this are dropped */
    void *request;            /* handed to crypto->verify */
};

/* Callbacks run on the storage thread, inside the job. */
struct store_hq_crypto {
    /* 0 when the request (auth->request) is signed with the secret sealed in
     * secret_enc; KIOSKD_EBADSIG when not; another KIOSKD_E* code on failure */
    int (*verify)(void *arg, const struct store_hq_auth *auth, const unsigned char *secret_enc,
                  size_t len);
    /* Seals the personal fields of data (an entry's or a change's, of kind)
     * in place under the "sealed" member. 0 or a KIOSKD_E* code. */
    int (*seal)(void *arg, const char *kind, json_t *data);
    /* Undoes seal in place: the personal fields are back in clear. */
    int (*unseal)(void *arg, const char *kind, json_t *data);
    /* Writes the keyed hash (HQ's key) of s[0..len) as 64 hex digits and a
     * NUL into out, for finding a phone without keeping it. 0 or a KIOSKD_E* code. */
    int (*hash)(void *arg, const char *s, size_t len, char out[65]);
    void *arg;
};

/* POST /sync/v1/push: checks the signature, records it, stores the body's
 * entries (each once) and advances the device's acked_through. body is the
 * JSON document {"device","key"?,"entries":[{"id","seq","kind","at","data"}]}.
 * What the push brings new becomes changes for the other devices (H5):
 * "key" {"kid","public_pem"} kind key; a sign-up (not a walk-in) that
 * carries a phone kind signup, unless another device's sign-up for the same
 * event and phone came first (then it is merged: it refers to that one and
 * is served to nobody); a signup_cancelled kind revocation. */
struct store_hq_push {
    struct store_job job;
    const struct store_hq_crypto *crypto;
    struct store_hq_auth auth;
    char *body; /* owned by the submitter; read on the storage thread */
    size_t len;
    /* out */
    enum hq_verdict verdict;
    char why[96];          /* HQ_MALFORMED: what is wrong */
    int64_t acked_through; /* HQ_OK */
    int64_t stored;        /* entries new to HQ */
    int64_t received;      /* entries in the body */
    int64_t merged;        /* sign-ups merged into another device's (not served) */
};
void store_hq_push_init(struct store_hq_push *j);

/* GET /sync/v1/pull?since=&limit=: checks and records the signature, then
 * reads up to limit changes after since that are for this device: those
 * without a branch, and those whose branch is the device or another device
 * of its area (not the empty area), as the area stands now. */
struct store_hq_pull {
    struct store_job job;
    const struct store_hq_crypto *crypto;
    struct store_hq_auth auth;
    int64_t since;
    int limit;
    /* out */
    enum hq_verdict verdict;
    char *answer; /* HQ_OK: {"changes":[{"kind","data"}],"cursor","more"}; the submitter frees */
    size_t answer_len;
    int64_t count;
};
void store_hq_pull_init(struct store_hq_pull *j);

/* GET /hq/v1/devices:
 * {"devices":[{"device","entries","acked_through","last_seen","failures","area"}]}
 * (last_seen RFC 3339 UTC or null; area "" for none). */
struct store_hq_devices {
    struct store_job job;
    /* out */
    char *answer; /* the submitter frees */
    size_t answer_len;
};
void store_hq_devices_init(struct store_hq_devices *j);

/* kioskd hq device add: a device with its sealed secret and its area ("":
 * none; see pull). verdict HQ_EXISTS
 * when the id is taken (nothing changes). */
struct store_hq_device_add {
    struct store_job job;
    char device[HQ_DEVICE_MAX + 1];
    char area[HQ_AREA_MAX + 1];
    unsigned char secret_enc[128];
    size_t secret_enc_len;
    /* out */
    enum hq_verdict verdict;
};
void store_hq_device_add_init(struct store_hq_device_add *j);

/* The rows of an import at HQ: fills kind (a static string), key and data
 * (a new reference, taken by the store) and returns 1; 0 at the end; or a
 * negative KIOSKD_E* code to roll the whole import back. */
typedef int (*hq_change_source_fn)(void *arg, const char **kind, char key[201], json_t **data);

/* kioskd hq import: every row becomes the latest change of its (kind, key),
 * sealed with crypto->seal, all in one transaction. A row whose data has a
 * string member "branch" (a device id) is that branch's change (see pull). */
struct store_hq_import {
    struct store_job job;
    const struct store_hq_crypto *crypto;
    hq_change_source_fn next;
    void *arg;
    /* out */
    int64_t rows;
};
void store_hq_import_init(struct store_hq_import *j);

/* A sign-up taken at HQ (by HQ's bot; `kioskd hq signup` for HQ IT): served
 * to the branch that holds its event as change kind signup, its ticket signed by HQ's key
 * (kid, served as change kind key), the guest sealed with HQ's key. The
 * merge rule holds: when a sign-up for the same event and phone is there
 * already (a branch's, or one taken at HQ before), nothing is added and
 * merged_into names it. */
struct store_hq_signup {
    struct store_job job;
    const struct store_hq_crypto *crypto;
    char kid[16];
    char public_pem[256];
    /* the event as the branch that holds it names it: KIOSKD_ENOTFOUND when
     * that device has not pushed it (event_created) or linked HQ's import
     * of it (event_linked) yet; or, when event_key is set, HQ's key of an
     * event imported for a branch: the job fills event_device with that
     * branch and event_id with its id there, 0 while the branch has not
     * linked it (the sign-up is served when it does; KIOSKD_ENOTFOUND: no
     * event was imported under that key); KIOSKD_EGONE: HQ imported it as
     * cancelled */
    char event_device[HQ_DEVICE_MAX + 1];
    int64_t event_id;
    char event_key[HQ_EVENT_KEY_MAX + 1];
    char name[160], phone[16]; /* in clear: wiped by the submitter */
    char name_masked[64], phone_last4[5];
    char consent_version[16];
    int64_t issued_at; /* unix seconds */
    /* out */
    int64_t signup_id;    /* the new sign-up's id under kid */
    char merged_into[40]; /* "kid:signup_id" of the sign-up it was merged into, or "" */
};
void store_hq_signup_init(struct store_hq_signup *j);
/* The same inside another job's transaction (HQ's bot, store/hqbot.h). */
int store_hq_signup_tx(struct store_tx *tx, struct store_hq_signup *j);

/* One entry of an export, its personal data unsealed, with HQ's key of the
 * event its data names (event_id at device: the key it was imported under, or
 * DEVICE/ID; "" when it names none): 0 to go on, or a KIOSKD_E* code that
 * stops the export. Runs on the storage thread. */
typedef int (*hq_entry_sink_fn)(void *arg, const char *device, const char *id, const char *at,
                                const char *event_key, json_t *data);

/* kioskd hq export: every stored entry of kind, oldest first, unsealed with
 * crypto->unseal and handed to row (which borrows data); for kind signup,
 * then the sign-ups HQ took itself (HQ's bot, kioskd hq signup) that were
 * not merged, as device "hq" with their ticket's "kid:signup_id" as id. */
struct store_hq_export {
    struct store_job job;
    const struct store_hq_crypto *crypto;
    const char *kind;
    hq_entry_sink_fn row;
    void *arg;
    /* out */
    int64_t rows;
};
void store_hq_export_init(struct store_hq_export *j);

#endif
