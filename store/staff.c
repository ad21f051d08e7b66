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
static const char SQL_FAIL_GET[] =
    "SELECT failed, locked_until FROM login_failures WHERE staff_id = ? AND addr = ?";
static const char SQL_FAIL_PUT[] =
    "INSERT INTO login_failures(staff_id, addr, failed, locked_until, last_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(staff_id, addr) DO UPDATE SET "
    "failed = excluded.failed, locked_until = excluded.locked_until, last_at = excluded.last_at";
static const char SQL_FAIL_CLEAR[] =
    "DELETE FROM login_failures WHERE staff_id = ?1 AND (addr = ?2 OR addr = '')";
static const char SQL_FAIL_CLEAR_ALL[] = "DELETE FROM login_failures WHERE staff_id = ?";
static const char SQL_FAIL_PURGE[] =
    "DELETE FROM login_failures WHERE last_at < ?1 AND locked_until <= ?2";

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

/* Reads the failure count of (staff_id, addr) through c; 0 and 0 when none. */
static int fail_read(struct conn *c, const char *staff_id, const char *addr, int64_t *failed,
                     int64_t *until)
{
    *failed = *until = 0;
    sqlite3_stmt *st = conn_stmt(c, SQL_FAIL_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *failed = sqlite3_column_int64(st, 0);
        *until = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int fail_put(struct store_tx *tx, const char *staff_id, const char *addr, int64_t failed,
                    int64_t until, int64_t now)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_FAIL_PUT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, failed);
    sqlite3_bind_int64(st, 4, until);
    sqlite3_bind_int64(st, 5, now);
    return store_step_done(st);
}

/* Runs one statement with text parameters a (and b when not NULL). */
static int exec_text(struct store_tx *tx, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st = conn_stmt(tx->c, sql);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    return store_step_done(st);
}

int store_login_locked(struct store *s, const char *staff_id, const char *addr, int64_t now,
                       int64_t *until)
{
    int64_t failed, at_addr, everywhere;
    int rc = fail_read(&s->rd, staff_id, addr, &failed, &at_addr);
    if (rc == 0)
        rc = fail_read(&s->rd, staff_id, "", &failed, &everywhere);
    if (rc)
        return rc;
    *until = at_addr > everywhere ? at_addr : everywhere;
    if (*until <= now)
        *until = 0;
    return 0;
}

/*
 * The lock rule. Wrong PINs are counted per (staff id, address) and per staff
 * id over every address (addr ''); an unknown id is counted the same way, so
 * no answer tells which ids exist. lock_after in a row at one address lock the
 * id at that address; lock_global in a row over all addresses lock it
 * everywhere; either lasts lock_seconds, and its count starts again after it.
 * While a lock holds, attempts are refused and not counted. A login clears
 * the count of its address and the global one.
 */
static int login_run(struct store_tx *tx, struct store_job *job)
{
    struct store_login *j = (struct store_login *)job;
    struct store_staff sf;
    char subject[48];
    int rc = staff_read(tx->c, j->staff_id, &sf);
    if (rc && rc != KIOSKD_ENOTFOUND)
        return rc;
    j->known = rc == 0;
    snprintf(subject, sizeof subject, "staff:%s", j->known ? j->staff_id : "unknown");
    const char *actor = j->known ? j->staff_id : NULL;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_FAIL_PURGE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->now - 86400);
    sqlite3_bind_int64(st, 2, j->now);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    int64_t fa, ua, fg, ug;
    if ((rc = fail_read(tx->c, j->staff_id, j->addr, &fa, &ua)) != 0 ||
        (rc = fail_read(tx->c, j->staff_id, "", &fg, &ug)) != 0)
        return rc;
    if (ua > j->now || ug > j->now) {
        j->result = KIOSKD_ELOCKED;
        j->locked_until = ua > ug ? ua : ug;
        return store_audit(tx, actor, j->device, "login_refused_locked", subject);
    }
    if (!j->known || !j->pin_ok) {
        fa++;
        fg++;
        ua = ug = 0;
        if (fa >= j->lock_after) {
            ua = j->now + j->lock_seconds;
            fa = 0;
            j->locked_now = true;
        }
        if (fg >= j->lock_global) {
            ug = j->now + j->lock_seconds;
            fg = 0;
            j->locked_now = j->locked_everywhere = true;
        }
        if ((rc = fail_put(tx, j->staff_id, j->addr, fa, ua, j->now)) != 0 ||
            (rc = fail_put(tx, j->staff_id, "", fg, ug, j->now)) != 0)
            return rc;
        j->result = j->locked_now ? KIOSKD_ELOCKED : KIOSKD_EAUTH;
        j->locked_until = ua > ug ? ua : ug;
        rc = store_audit(tx, actor, j->device, "login_failed", subject);
        if (!rc && j->locked_now)
            rc = store_audit(tx, actor, j->device,
                             j->locked_everywhere ? "lockout_global" : "lockout", subject);
        return rc;
    }
    if ((rc = exec_text(tx, SQL_FAIL_CLEAR, j->staff_id, j->addr)) != 0)
        return rc;
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

static int staff_unlock_run(struct store_tx *tx, struct store_job *job)
{
    struct store_staff_unlock *j = (struct store_staff_unlock *)job;
    struct store_staff sf;
    int rc = staff_read(tx->c, j->target, &sf);
    if (rc && rc != KIOSKD_ENOTFOUND)
        return rc;
    bool known = rc == 0;
    if ((rc = exec_text(tx, SQL_FAIL_CLEAR_ALL, j->target, NULL)) != 0)
        return rc;
    j->cleared = sqlite3_changes(tx->c->db);
    if (!known && j->cleared == 0)
        return store_refuse(job, WHY_STAFF_NOT_FOUND);
    char subject[48];
    snprintf(subject, sizeof subject, "staff:%s", known ? j->target : "unknown");
    return store_audit(tx, j->by.staff_id[0] ? j->by.staff_id : NULL,
                       j->by.device[0] ? j->by.device : NULL, "staff_unlock", subject);
}

void store_staff_unlock_init(struct store_staff_unlock *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = staff_unlock_run;
}
