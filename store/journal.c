/* The outbox journal and the audit trail, written from inside write jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/status.h"
#include "store/store.h"
#include "store/store_int.h"

static const char SQL_OUTBOX_INSERT[] =
    "INSERT INTO outbox(id, kind, at, data) VALUES (?, ?, ?, ?)";
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit(at_us, staff_id, device, action, subject) VALUES (?, ?, ?, ?, ?)";

void store_actor_set(struct store_actor *a, const char *staff_id, const char *device)
{
    snprintf(a->staff_id, sizeof a->staff_id, "%s", staff_id ? staff_id : "");
    snprintf(a->device, sizeof a->device, "%s", device ? device : "");
}

int store_refuse(struct store_job *job, enum store_why why)
{
    job->why = why;
    return KIOSKD_EREFUSED;
}

int64_t store_tx_now(const struct store_tx *tx)
{
    return tx->now_us;
}

/* Formats t (µs since the epoch) as RFC 3339 UTC with milliseconds. */
static void rfc3339_utc(int64_t t, char out[64])
{
    time_t sec = (time_t)(t / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(t % 1000000 / 1000));
}

int store_outbox_append(struct store_tx *tx, const char *kind, json_t *data)
{
    char id[37], at[64];
    char *text = NULL;
    int rc;
    if (!data) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    if (!json_is_object(data)) {
        rc = KIOSKD_EINVAL;
        goto out;
    }
    /* UTF-8 as it is, not \u escapes: jansson has checked every string */
    text = json_dumps(data, JSON_COMPACT);
    if (!text) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    if (rng_uuid(tx->rng, id)) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
    rfc3339_utc(tx->now_us, at);
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_OUTBOX_INSERT);
    if (!st) {
        rc = KIOSKD_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        rc = store_rc(rc);
        goto out;
    }
    tx->outbox_added++;
    rc = 0;
out:
    free(text);
    json_decref(data);
    return rc;
}

int store_audit(struct store_tx *tx, const char *staff_id, const char *device, const char *action,
                const char *subject)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_AUDIT_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, tx->now_us);
    sqlite3_bind_text(st, 2, staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, subject, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

int store_journal(struct store_tx *tx, const char *staff_id, const char *device, const char *action,
                  const char *subject_kind, int64_t subject_id, const char *outbox_kind,
                  json_t *data)
{
    char subject[48];
    snprintf(subject, sizeof subject, "%s:%lld", subject_kind, (long long)subject_id);
    int rc = store_audit(tx, staff_id && *staff_id ? staff_id : NULL,
                         device && *device ? device : NULL, action, subject);
    if (rc) {
        json_decref(data);
        return rc;
    }
    return store_outbox_append(tx, outbox_kind, data);
}
