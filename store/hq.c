/* The jobs of `kioskd hq`'s SQLite storage (store/hq.h); the schema is store/hq_migrations/. */
#include "store/hq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_DEVICE_SECRET[] = "SELECT secret_enc FROM hq_devices WHERE device = ?1";
static const char SQL_DEVICE_FAILED[] =
    "UPDATE hq_devices SET failures = failures + 1 WHERE device = ?1";
static const char SQL_SIG_INSERT[] =
    "INSERT INTO hq_seen_sigs(sig, device, ts) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
static const char SQL_SIG_PRUNE[] = "DELETE FROM hq_seen_sigs WHERE ts < ?1";
static const char SQL_DEVICE_SEEN[] = "UPDATE hq_devices SET last_seen = ?2 WHERE device = ?1";
static const char SQL_ENTRY_INSERT[] =
    "INSERT INTO hq_entries(id, device, seq, kind, at, data, received_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
static const char SQL_ACKED[] = "SELECT acked_through FROM hq_devices WHERE device = ?1";
/* the end of the run of stored seqs that starts right after acked_through
 * (acked_through itself when acked_through + 1 is missing) */
static const char SQL_ACK_RUN_END[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM hq_entries WHERE device = ?1 AND seq = ?2 + 1) "
    "THEN (SELECT min(e.seq) FROM hq_entries e WHERE e.device = ?1 AND e.seq > ?2 AND NOT EXISTS "
    "(SELECT 1 FROM hq_entries f WHERE f.device = ?1 AND f.seq = e.seq + 1)) ELSE ?2 END";
static const char SQL_DEVICE_ACK[] =
    "UPDATE hq_devices SET acked_through = ?2, entries = entries + ?3 WHERE device = ?1";
/* the changes for every device and those of a branch that is the device or
 * shares its area (not the empty one) */
static const char SQL_CHANGES_AFTER[] =
    "SELECT seq, kind, data FROM hq_changes WHERE seq > ?1 AND (branch IS NULL OR branch = ?3 "
    "OR branch IN (SELECT d.device FROM hq_devices d JOIN hq_devices o ON o.area = d.area "
    "WHERE o.device = ?3 AND o.area <> '')) ORDER BY seq LIMIT ?2";
static const char SQL_DEVICES[] =
    "SELECT device, entries, acked_through, last_seen, failures, area FROM hq_devices "
    "ORDER BY device";
static const char SQL_DEVICE_INSERT[] =
    "INSERT INTO hq_devices(device, secret_enc, created_at, area) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT DO NOTHING";
static const char SQL_CHANGE_DELETE[] = "DELETE FROM hq_changes WHERE kind = ?1 AND key = ?2";
static const char SQL_CHANGE_INSERT[] =
    "INSERT INTO hq_changes(kind, key, data, at, branch) VALUES (?1, ?2, ?3, ?4, ?5)";

static void rfc3339_utc(int64_t t, char out[64])
{
    time_t sec = (time_t)(t / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int device_failed(struct store_tx *tx, const char *device)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_DEVICE_FAILED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    return store_step_done(st);
}

/* Checks the request's signature with the device's secret and records it as
 * seen (H3, H4). Sets *verdict; returns 0 or a KIOSKD_E* code. */
static int hq_authenticate(struct store_tx *tx, const struct store_hq_crypto *crypto,
                           const struct store_hq_auth *a, enum hq_verdict *verdict)
{
    unsigned char enc[256];
    size_t len;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_DEVICE_SECRET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, a->device, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        *verdict = HQ_UNKNOWN_DEVICE;
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return store_rc(rc);
    }
    len = (size_t)sqlite3_column_bytes(st, 0);
    if (len > sizeof enc) {
        sqlite3_reset(st);
        return KIOSKD_EIO;
    }
    memcpy(enc, sqlite3_column_blob(st, 0), len);
    sqlite3_reset(st);
    rc = crypto->verify(crypto->arg, a, enc, len);
    if (rc == KIOSKD_EBADSIG) {
        *verdict = HQ_BAD_SIGNATURE;
        return device_failed(tx, a->device);
    }
    if (rc)
        return rc;
    st = conn_stmt(tx->c, SQL_SIG_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, a->sig, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a->ts);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    if (sqlite3_changes(tx->c->db) == 0) {
        *verdict = HQ_REPLAYED;
        return device_failed(tx, a->device);
    }
    st = conn_stmt(tx->c, SQL_SIG_PRUNE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx) / 1000000 - 2 * a->window);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    st = conn_stmt(tx->c, SQL_DEVICE_SEEN);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, a->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, store_tx_now(tx));
    if ((rc = store_step_done(st)) != 0)
        return rc;
    *verdict = HQ_OK;
    return 0;
}

static int malformed(struct store_hq_push *j, const char *why)
{
    j->verdict = HQ_MALFORMED;
    snprintf(j->why, sizeof j->why, "%s", why);
    return 0;
}

/* Checks one entry of a push; returns NULL or what is wrong. */
static const char *entry_problem(json_t *e)
{
    json_t *id = json_object_get(e, "id"), *seq = json_object_get(e, "seq");
    json_t *kind = json_object_get(e, "kind"), *at = json_object_get(e, "at");
    if (!json_is_object(e))
        return "an entry is not an object";
    if (!json_is_string(id) || json_string_length(id) != 36)
        return "an entry's id is not a UUID";
    if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        return "an entry's seq is not a positive integer";
    if (!json_is_string(kind) || json_string_length(kind) == 0 || json_string_length(kind) > 64)
        return "an entry's kind is not a short string";
    if (!json_is_string(at) || json_string_length(at) == 0 || json_string_length(at) > 64)
        return "an entry's at is not a time";
    if (!json_is_object(json_object_get(e, "data")))
        return "an entry's data is not an object";
    return NULL;
}

static int store_entry(struct store_tx *tx, struct store_hq_push *j, json_t *e)
{
    const char *kind = json_string_value(json_object_get(e, "kind"));
    json_t *data = json_object_get(e, "data");
    int rc = j->crypto->seal(j->crypto->arg, kind, data);
    if (rc)
        return rc;
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return KIOSKD_ENOMEM;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ENTRY_INSERT);
    if (!st) {
        free(text);
        return KIOSKD_EIO;
    }
    sqlite3_bind_text(st, 1, json_string_value(json_object_get(e, "id")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->auth.device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)json_integer_value(json_object_get(e, "seq")));
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, json_string_value(json_object_get(e, "at")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, store_tx_now(tx));
    rc = store_step_done(st);
    free(text);
    if (rc == 0)
        j->stored += sqlite3_changes(tx->c->db);
    return rc;
}

static int advance_ack(struct store_tx *tx, struct store_hq_push *j)
{
    int64_t acked = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ACKED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->auth.device, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        acked = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    st = conn_stmt(tx->c, SQL_ACK_RUN_END);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->auth.device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, acked);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        acked = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    st = conn_stmt(tx->c, SQL_DEVICE_ACK);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->auth.device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, acked);
    sqlite3_bind_int64(st, 3, j->stored);
    j->acked_through = acked;
    return store_step_done(st);
}

static int push_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_push *j = (struct store_hq_push *)job;
    j->stored = j->received = j->acked_through = 0;
    int rc = hq_authenticate(tx, j->crypto, &j->auth, &j->verdict);
    if (rc || j->verdict != HQ_OK)
        return rc;
    json_error_t err;
    json_t *doc = json_loadb(j->body, j->len, JSON_REJECT_DUPLICATES, &err);
    json_t *entries = json_object_get(doc, "entries");
    const char *device = json_string_value(json_object_get(doc, "device"));
    if (!json_is_object(doc))
        rc = malformed(j, "the body is not a JSON object");
    else if (!device || strcmp(device, j->auth.device) != 0)
        rc = malformed(j, "device is not the device that signed the request");
    else if (!json_is_array(entries))
        rc = malformed(j, "entries is not an array");
    else {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e)
        {
            const char *why = entry_problem(e);
            if (why) {
                rc = malformed(j, why);
                break;
            }
        }
        if (j->verdict == HQ_OK) {
            json_array_foreach(entries, i, e)
            {
                if ((rc = store_entry(tx, j, e)) != 0)
                    break;
            }
            j->received = (int64_t)json_array_size(entries);
            if (rc == 0)
                rc = advance_ack(tx, j);
        }
    }
    json_decref(doc);
    return rc;
}

void store_hq_push_init(struct store_hq_push *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = push_run;
}

static int pull_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_pull *j = (struct store_hq_pull *)job;
    free(j->answer);
    j->answer = NULL;
    j->count = 0;
    int rc = hq_authenticate(tx, j->crypto, &j->auth, &j->verdict);
    if (rc || j->verdict != HQ_OK)
        return rc;
    json_t *changes = json_array(), *doc = NULL;
    int64_t cursor = j->since;
    bool more = false;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CHANGES_AFTER);
    if (!changes || !st) {
        rc = changes ? KIOSKD_EIO : KIOSKD_ENOMEM;
        goto out;
    }
    sqlite3_bind_int64(st, 1, j->since);
    sqlite3_bind_int(st, 2, j->limit + 1);
    sqlite3_bind_text(st, 3, j->auth.device, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (j->count == j->limit) {
            more = true;
            break;
        }
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        json_error_t err;
        json_t *data = json_loadb((const char *)sqlite3_column_text(st, 2),
                                  (size_t)sqlite3_column_bytes(st, 2), 0, &err);
        int urc = data ? j->crypto->unseal(j->crypto->arg, kind, data) : KIOSKD_EIO;
        if (urc || json_array_append_new(
                       changes, json_pack("{s:s, s:o}", "kind", kind, "data", data)) != 0) {
            if (urc)
                json_decref(data);
            rc = urc ? urc : KIOSKD_ENOMEM;
            sqlite3_reset(st);
            goto out;
        }
        cursor = sqlite3_column_int64(st, 0);
        j->count++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = store_rc(rc);
        goto out;
    }
    char cur[24];
    snprintf(cur, sizeof cur, "%lld", (long long)cursor);
    doc = json_pack("{s:O, s:s, s:b}", "changes", changes, "cursor", cur, "more", more);
    j->answer = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    rc = j->answer ? 0 : KIOSKD_ENOMEM;
    if (j->answer)
        j->answer_len = strlen(j->answer);
out:
    json_decref(changes);
    json_decref(doc);
    return rc;
}

void store_hq_pull_init(struct store_hq_pull *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = pull_run;
}

static int devices_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_devices *j = (struct store_hq_devices *)job;
    json_t *list = json_array();
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_DEVICES);
    int rc;
    free(j->answer);
    j->answer = NULL;
    if (!list || !st) {
        json_decref(list);
        return list ? KIOSKD_EIO : KIOSKD_ENOMEM;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char seen[64];
        json_t *last = json_null();
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            rfc3339_utc(sqlite3_column_int64(st, 3), seen);
            last = json_string(seen);
        }
        if (json_array_append_new(
                list, json_pack("{s:s, s:I, s:I, s:o, s:I, s:s}", "device",
                                (const char *)sqlite3_column_text(st, 0), "entries",
                                (json_int_t)sqlite3_column_int64(st, 1), "acked_through",
                                (json_int_t)sqlite3_column_int64(st, 2), "last_seen", last,
                                "failures", (json_int_t)sqlite3_column_int64(st, 4), "area",
                                (const char *)sqlite3_column_text(st, 5))) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return store_rc(rc);
    }
    json_t *doc = json_pack("{s:o}", "devices", list);
    j->answer = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!j->answer)
        return KIOSKD_ENOMEM;
    j->answer_len = strlen(j->answer);
    return 0;
}

void store_hq_devices_init(struct store_hq_devices *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = devices_run;
}

static int device_add_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_device_add *j = (struct store_hq_device_add *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_DEVICE_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->device, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, j->secret_enc, (int)j->secret_enc_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, store_tx_now(tx));
    sqlite3_bind_text(st, 4, j->area, -1, SQLITE_STATIC);
    int rc = store_step_done(st);
    if (rc)
        return rc;
    j->verdict = sqlite3_changes(tx->c->db) ? HQ_OK : HQ_EXISTS;
    return 0;
}

void store_hq_device_add_init(struct store_hq_device_add *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = device_add_run;
}

static int import_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_import *j = (struct store_hq_import *)job;
    const char *kind;
    char key[201];
    json_t *data;
    int rc;
    j->rows = 0;
    while ((rc = j->next(j->arg, &kind, key, &data)) == 1) {
        char *text = NULL, branch[HQ_DEVICE_MAX + 1] = "";
        const char *b = json_string_value(json_object_get(data, "branch"));
        if (b)
            snprintf(branch, sizeof branch, "%s", b);
        rc = j->crypto->seal(j->crypto->arg, kind, data);
        if (rc == 0 && !(text = json_dumps(data, JSON_COMPACT)))
            rc = KIOSKD_ENOMEM;
        json_decref(data);
        sqlite3_stmt *st = rc ? NULL : conn_stmt(tx->c, SQL_CHANGE_DELETE);
        if (rc == 0 && !st)
            rc = KIOSKD_EIO;
        if (rc == 0) {
            sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
            rc = store_step_done(st);
        }
        if (rc == 0 && !(st = conn_stmt(tx->c, SQL_CHANGE_INSERT)))
            rc = KIOSKD_EIO;
        if (rc == 0) {
            sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, store_tx_now(tx));
            if (branch[0])
                sqlite3_bind_text(st, 5, branch, -1, SQLITE_STATIC);
            rc = store_step_done(st);
        }
        free(text);
        if (rc)
            return rc;
        j->rows++;
    }
    return rc;
}

void store_hq_import_init(struct store_hq_import *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = import_run;
}
