/* Members: the import job and the lookups' reads. */
#include "store/members.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_MEMBER_EXISTS[] = "SELECT id FROM members WHERE member_no = ?1";

static const char SQL_MEMBER_INSERT[] =
    "INSERT INTO members (member_no, name_enc, phone_enc, phone_hash, name_mask, phone_last4, "
    "aum_enc, tier, birthday, household, last_txn, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)";

/* openid, opted_out and balance belong to the branch, not to HQ's file: kept */
static const char SQL_MEMBER_UPDATE[] =
    "UPDATE members SET name_enc = ?2, phone_enc = ?3, phone_hash = ?4, name_mask = ?5, "
    "phone_last4 = ?6, aum_enc = ?7, tier = ?8, birthday = ?9, household = ?10, last_txn = ?11, "
    "updated_at = ?12 WHERE member_no = ?1";

static const char SQL_MEMBER_BY_NO[] =
    "SELECT m.id, m.member_no, m.name_mask, m.tier, coalesce(m.household, ''), m.balance, "
    "(SELECT coalesce(sum(h.balance), 0) FROM members h WHERE h.household = m.household), "
    "coalesce(m.trial_tier, ''), coalesce(m.trial_until, ''), m.aum_enc "
    "FROM members m WHERE m.member_no = ?1";

static const char SQL_MEMBER_BY_PHONE[] =
    "SELECT m.id, m.member_no, m.name_mask, m.tier, coalesce(m.household, ''), m.balance, "
    "(SELECT coalesce(sum(h.balance), 0) FROM members h WHERE h.household = m.household), "
    "coalesce(m.trial_tier, ''), coalesce(m.trial_until, ''), m.aum_enc "
    "FROM members m WHERE m.phone_hash = ?1 ORDER BY m.id LIMIT 1";

static const char SQL_MEMBER_BY_BINDING[] =
    "SELECT m.id, m.member_no, m.name_mask, m.tier, coalesce(m.household, ''), m.balance, "
    "(SELECT coalesce(sum(h.balance), 0) FROM members h WHERE h.household = m.household), "
    "coalesce(m.trial_tier, ''), coalesce(m.trial_until, ''), m.aum_enc "
    "FROM bot_bindings b JOIN members m ON m.id = b.member_id WHERE b.identity_hash = ?1";

static const char SQL_MEMBER_NO_OF_PHONE[] =
    "SELECT member_no FROM members WHERE phone_hash = ?1 ORDER BY id LIMIT 1";

int member_write(struct store_tx *tx, const struct store_member *m, int64_t now, bool *added)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_EXISTS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, m->member_no, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    *added = rc == SQLITE_DONE;
    st = conn_stmt(tx->c, *added ? SQL_MEMBER_INSERT : SQL_MEMBER_UPDATE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, m->member_no, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, m->who.name_enc, (int)m->who.name_enc_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, m->who.phone_enc, (int)m->who.phone_enc_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, m->who.phone_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, m->who.name_mask, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, m->who.phone_last4, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, m->aum_enc, (int)m->aum_enc_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, m->tier, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, m->birthday, -1, SQLITE_STATIC);
    if (m->household[0])
        sqlite3_bind_text(st, 10, m->household, -1, SQLITE_STATIC);
    if (m->last_txn[0])
        sqlite3_bind_text(st, 11, m->last_txn, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, now);
    return store_step_done(st);
}

/* Page cache of the writer while an import runs: the phone-hash index takes
 * its rows in random order, and with the usual 4 MB every insert past about
 * 100,000 members read and spilled index pages again (1,000,000 members:
 * about 45 MB of index). Back to the usual size when the import ends. */
#define IMPORT_CACHE_KIB 131072

static int members_import_rows(struct store_tx *tx, struct store_members_import *j);

static int members_import_run(struct store_tx *tx, struct store_job *job)
{
    struct store_members_import *j = (struct store_members_import *)job;
    char pragma[48];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d", IMPORT_CACHE_KIB);
    int rc = conn_exec(tx->c, pragma);
    if (rc == 0)
        rc = members_import_rows(tx, j);
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d", STORE_WRITER_CACHE_KIB);
    int rc2 = conn_exec(tx->c, pragma);
    return rc ? rc : rc2;
}

static int members_import_rows(struct store_tx *tx, struct store_members_import *j)
{
    int64_t now = store_tx_now(tx) / 1000000;
    struct store_member m;
    int rc;
    j->added = j->updated = 0;
    while ((rc = j->next(j->arg, &m)) == 1) {
        bool added = false;
        if ((rc = member_write(tx, &m, now, &added)) != 0)
            break;
        if (added)
            j->added++;
        else
            j->updated++;
    }
    memset(&m, 0, sizeof m);
    if (rc < 0)
        return rc;
    char subject[64];
    snprintf(subject, sizeof subject, "members:%lld+%lld", (long long)j->added,
             (long long)j->updated);
    return store_audit(tx, j->by.staff_id[0] ? j->by.staff_id : NULL,
                       j->by.device[0] ? j->by.device : NULL, "members_import", subject);
}

void store_members_import_init(struct store_members_import *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = members_import_run;
}

static int member_read(sqlite3_stmt *st, struct store_member_view *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        store_col_text(out->member_no, sizeof out->member_no, st, 1);
        store_col_text(out->name_mask, sizeof out->name_mask, st, 2);
        store_col_text(out->tier, sizeof out->tier, st, 3);
        store_col_text(out->household, sizeof out->household, st, 4);
        out->balance = sqlite3_column_int64(st, 5);
        out->household_balance = out->household[0] ? sqlite3_column_int64(st, 6) : 0;
        store_col_text(out->trial_tier, sizeof out->trial_tier, st, 7);
        store_col_text(out->trial_until, sizeof out->trial_until, st, 8);
        int n = sqlite3_column_bytes(st, 9);
        out->aum_enc_len = n > 0 && (size_t)n <= sizeof out->aum_enc ? (size_t)n : 0;
        if (out->aum_enc_len)
            memcpy(out->aum_enc, sqlite3_column_blob(st, 9), out->aum_enc_len);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

int store_member_by_no(struct store *s, const char *member_no, struct store_member_view *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_MEMBER_BY_NO);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, member_no, -1, SQLITE_STATIC);
    return member_read(st, out);
}

int store_member_by_phone(struct store *s, const unsigned char hash[STORE_HASH_LEN],
                          struct store_member_view *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_MEMBER_BY_PHONE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);
    return member_read(st, out);
}

int store_member_by_binding(struct store *s, const unsigned char identity_hash[STORE_HASH_LEN],
                            struct store_member_view *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_MEMBER_BY_BINDING);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, identity_hash, STORE_HASH_LEN, SQLITE_STATIC);
    return member_read(st, out);
}

static const char SQL_MEMBER_SEALED[] = "SELECT name_enc, phone_enc FROM members WHERE id = ?1";

/* Copies blob column col of st into out (cap bytes); false when it does not fit. */
static bool col_blob(sqlite3_stmt *st, int col, unsigned char *out, size_t cap, size_t *len)
{
    int n = sqlite3_column_bytes(st, col);
    if (n <= 0 || (size_t)n > cap)
        return false;
    memcpy(out, sqlite3_column_blob(st, col), (size_t)n);
    *len = (size_t)n;
    return true;
}

int store_member_sealed(struct store *s, int64_t id, struct store_member_sealed *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_MEMBER_SEALED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW &&
              col_blob(st, 0, out->name_enc, sizeof out->name_enc, &out->name_enc_len) &&
              col_blob(st, 1, out->phone_enc, sizeof out->phone_enc, &out->phone_enc_len);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return ok ? 0 : KIOSKD_EIO;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

int member_no_of_phone(struct store_tx *tx, const unsigned char hash[STORE_HASH_LEN],
                       char out[MEMBER_NO_MAX + 1])
{
    out[0] = '\0';
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_NO_OF_PHONE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        store_col_text(out, MEMBER_NO_MAX + 1, st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static const char SQL_MEMBER_ROW_BY_NO[] =
    "SELECT id, balance, member_no, tier, coalesce(trial_tier, ''), coalesce(trial_until, ''), "
    "coalesce(household, '') FROM members WHERE member_no = ?1";
static const char SQL_MEMBER_ROW_BY_ID[] =
    "SELECT id, balance, member_no, tier, coalesce(trial_tier, ''), coalesce(trial_until, ''), "
    "coalesce(household, '') FROM members WHERE id = ?1";

static int member_row_read(sqlite3_stmt *st, struct member_row *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->balance = sqlite3_column_int64(st, 1);
        store_col_text(out->member_no, sizeof out->member_no, st, 2);
        store_col_text(out->tier, sizeof out->tier, st, 3);
        store_col_text(out->trial_tier, sizeof out->trial_tier, st, 4);
        store_col_text(out->trial_until, sizeof out->trial_until, st, 5);
        store_col_text(out->household, sizeof out->household, st, 6);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

int member_row_by_no(struct store_tx *tx, const char *member_no, struct member_row *out)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_ROW_BY_NO);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, member_no, -1, SQLITE_STATIC);
    return member_row_read(st, out);
}

int member_row_by_id(struct store_tx *tx, int64_t id, struct member_row *out)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_ROW_BY_ID);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    return member_row_read(st, out);
}
