/* Staff accounts and sessions: SQL. */
#include "store/staff.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_STAFF_GET[] =
    "SELECT id, name, role, pin_hash, failed, locked_until FROM staff WHERE id = ?";
static const char SQL_STAFF_INSERT[] =
    "INSERT INTO staff(id, name, role, pin_hash, created_at) VALUES (?, ?, ?, ?, ?)";
static const char SQL_STAFF_FAILED[] = "UPDATE staff SET failed = ?, locked_until = ? WHERE id = ?";
static const char SQL_SESSION_GET[] =
    "SELECT staff_id, role, device, expires_at FROM sessions "
    "WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ?";
static const char SQL_SESSION_INSERT[] =
    "INSERT INTO sessions(token_hash, staff_id, role, device, created_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_SESSION_REVOKE[] =
    "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL";
static const char SQL_SESSIONS_REVOKE_STAFF[] =
    "UPDATE sessions SET revoked_at = ?1 WHERE staff_id = ?2 AND revoked_at IS NULL "
    "AND expires_at > ?1";
static const char SQL_SESSION_PURGE[] = "DELETE FROM sessions WHERE expires_at < ?";

static int staff_read(struct conn *c, const char *id, struct store_staff *out)
{
    sqlite3_stmt *st = conn_stmt(c, SQL_STAFF_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_col_text(out->id, sizeof out->id, st, 0);
        store_col_text(out->name, sizeof out->name, st, 1);
        store_col_text(out->role, sizeof out->role, st, 2);
        store_col_text(out->pin_hash, sizeof out->pin_hash, st, 3);
        out->failed = sqlite3_column_int64(st, 4);
        out->locked_until = sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

int store_staff_get(struct store *s, const char *id, struct store_staff *out)
{
    return staff_read(&s->rd, id, out);
}

int store_session_get(struct store *s, const unsigned char hash[32], int64_t now,
                      struct store_session *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_SESSION_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_col_text(out->staff_id, sizeof out->staff_id, st, 0);
        store_col_text(out->role, sizeof out->role, st, 1);
        store_col_text(out->device, sizeof out->device, st, 2);
        out->expires_at = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? KIOSKD_EAUTH : store_rc(rc);
}

static int staff_add_run(struct store_tx *tx, struct store_job *job)
{
    struct store_staff_add *j = (struct store_staff_add *)job;
    struct store_staff existing;
    int rc = staff_read(tx->c, j->staff.id, &existing);
    if (rc == 0)
        return store_refuse(job, WHY_STAFF_EXISTS);
    if (rc != KIOSKD_ENOTFOUND)
        return rc;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_STAFF_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->staff.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->staff.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->staff.role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, j->staff.pin_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, store_tx_now(tx) / 1000000);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    char subject[48];
    snprintf(subject, sizeof subject, "staff:%s", j->staff.id);
    return store_audit(tx, NULL, "cli", "staff_add", subject);
}

void store_staff_add_init(struct store_staff_add *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = staff_add_run;
}

static int login_run(struct store_tx *tx, struct store_job *job)
{
    struct store_login *j = (struct store_login *)job;
    struct store_staff sf;
    char subject[48];
    snprintf(subject, sizeof subject, "staff:%s", j->staff_id);
    int rc = staff_read(tx->c, j->staff_id, &sf);
    if (rc == KIOSKD_ENOTFOUND) {
        j->result = KIOSKD_EAUTH;
        return store_audit(tx, NULL, j->device, "login_failed", "staff:unknown");
    }
    if (rc)
        return rc;
    if (sf.locked_until > j->now) {
        j->result = KIOSKD_ELOCKED;
        j->locked_until = sf.locked_until;
        return store_audit(tx, j->staff_id, j->device, "login_refused_locked", subject);
    }
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_STAFF_FAILED);
    if (!st)
        return KIOSKD_EIO;
    if (!j->pin_ok) {
        int64_t failed = sf.failed + 1, until = 0;
        if (failed >= j->lock_after) {
            until = j->now + j->lock_seconds;
            failed = 0;
            j->locked_now = true;
        }
        sqlite3_bind_int64(st, 1, failed);
        sqlite3_bind_int64(st, 2, until);
        sqlite3_bind_text(st, 3, j->staff_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_rc(rc);
        j->result = j->locked_now ? KIOSKD_ELOCKED : KIOSKD_EAUTH;
        j->locked_until = until;
        rc = store_audit(tx, j->staff_id, j->device, "login_failed", subject);
        if (!rc && j->locked_now)
            rc = store_audit(tx, j->staff_id, j->device, "lockout", subject);
        return rc;
    }
    sqlite3_bind_int64(st, 1, 0);
    sqlite3_bind_int64(st, 2, 0);
    sqlite3_bind_text(st, 3, j->staff_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    st = conn_stmt(tx->c, SQL_SESSION_PURGE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->now - 86400);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    st = conn_stmt(tx->c, SQL_SESSION_INSERT);
    if (!st)
        return KIOSKD_EIO;
    j->expires_at = j->now + j->ttl;
    sqlite3_bind_blob(st, 1, j->token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sf.role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, j->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, j->now);
    sqlite3_bind_int64(st, 6, j->expires_at);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    snprintf(j->role, sizeof j->role, "%s", sf.role);
    j->result = 0;
    return store_audit(tx, j->staff_id, j->device, "login", subject);
}

void store_login_init(struct store_login *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = login_run;
}

static int logout_run(struct store_tx *tx, struct store_job *job)
{
    struct store_logout *j = (struct store_logout *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SESSION_REVOKE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx) / 1000000);
    sqlite3_bind_blob(st, 2, j->token_hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (sqlite3_changes(tx->c->db) == 0)
        return store_refuse(job, WHY_SESSION_NOT_FOUND);
    char subject[48];
    snprintf(subject, sizeof subject, "staff:%s", j->by.staff_id);
    return store_audit(tx, j->by.staff_id, j->by.device, "logout", subject);
}

void store_logout_init(struct store_logout *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = logout_run;
}

static int sessions_revoke_run(struct store_tx *tx, struct store_job *job)
{
    struct store_sessions_revoke *j = (struct store_sessions_revoke *)job;
    struct store_staff sf;
    int rc = staff_read(tx->c, j->target, &sf);
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? store_refuse(job, WHY_STAFF_NOT_FOUND) : rc;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SESSIONS_REVOKE_STAFF);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx) / 1000000);
    sqlite3_bind_text(st, 2, j->target, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    j->revoked = sqlite3_changes(tx->c->db);
    char subject[48];
    snprintf(subject, sizeof subject, "staff:%s", j->target);
    return store_audit(tx, j->by.staff_id, j->by.device, "sessions_revoke", subject);
}

void store_sessions_revoke_init(struct store_sessions_revoke *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = sessions_revoke_run;
}
