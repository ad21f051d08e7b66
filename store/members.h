/* Members: the import (one job, one transaction) and the reads of lookups. */
#ifndef KIOSKD_STORE_MEMBERS_H
#define KIOSKD_STORE_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/signups.h"
#include "store/store.h"

#define MEMBER_NO_MAX 32

/* One member as the import writes it; personal data and AUM sealed. */
struct store_member {
    char member_no[MEMBER_NO_MAX + 1];
    struct store_person who; /* name_hash unused */
    unsigned char aum_enc[64];
    size_t aum_enc_len;
    char tier[16];
    char birthday[11];
    char household[65]; /* "" when none */
    char last_txn[11];  /* "" when none */
};

/* The source of the import's rows, called on the writer thread inside the
 * job: fills m and returns 1, returns 0 at the end, or a negative KIOSKD_E*
 * code (the source keeps its own message) to roll the whole import back. */
typedef int (*member_source_fn)(void *arg, struct store_member *m);

/* Inserts or updates (by member_no) every member next() gives, all in one
 * transaction: a failing row leaves the table as it was. One audit line. */
struct store_members_import {
    struct store_job job;
    member_source_fn next;
    void *arg;
    struct store_actor by;
    /* out */
    int64_t added, updated;
};
void store_members_import_init(struct store_members_import *j);

/* A member as a lookup shows it. */
struct store_member_view {
    int64_t id;
    char member_no[MEMBER_NO_MAX + 1];
    char name_mask[64];
    char tier[16];
    char household[65];
    int64_t balance;
    int64_t household_balance; /* the household's members together; household "" : 0 */
    char trial_tier[16];       /* "" when no trial was granted */
    char trial_until[11];
    unsigned char aum_enc[64]; /* sealed AUM (fen as decimal text) */
    size_t aum_enc_len;
};

/* Reads the member by number, or by phone hash (the oldest member with that
 * phone). Returns 0, KIOSKD_ENOTFOUND or another KIOSKD_E* code. Loop only. */
int store_member_by_no(struct store *s, const char *member_no, struct store_member_view *out);
int store_member_by_phone(struct store *s, const unsigned char hash[STORE_HASH_LEN],
                          struct store_member_view *out);
/* A member's sealed name and phone (for a sign-up made for them). Loop only.
 * 0, KIOSKD_ENOTFOUND or another KIOSKD_E* code. */
struct store_member_sealed {
    unsigned char name_enc[STORE_ENC_MAX];
    size_t name_enc_len;
    unsigned char phone_enc[64];
    size_t phone_enc_len;
};
int store_member_sealed(struct store *s, int64_t id, struct store_member_sealed *out);
/* The same for the member a chat identity (its keyed hash) is bound to. */
int store_member_by_binding(struct store *s, const unsigned char identity_hash[STORE_HASH_LEN],
                            struct store_member_view *out);

#endif
