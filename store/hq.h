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
 */
#ifndef KIOSKD_STORE_HQ_H
#define KIOSKD_STORE_HQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

#define HQ_DEVICE_MAX 64
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
    void *arg;
};

/* POST /sync/v1/push: checks the signature, records it, stores the body's
 * entries (each once) and advances the device's acked_through. body is the
 * JSON document {"device","entries":[{"id","seq","kind","at","data"}]}. */
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

#endif
