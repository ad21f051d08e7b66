/* The jobs of `kioskd hq`'s SQLite storage (store/hq.h); the schema is store/hq_migrations/. */
#include "store/hq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hqpush.h"
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
static const char SQL_CHANGES_AFTER[] =
    "SELECT seq, kind, data FROM hq_changes WHERE seq > ?1 AND (device IS NULL OR device <> ?3) "
    "AND (event_id IS NULL OR event_id IN "
    "(SELECT de.event_id FROM hq_device_events de WHERE de.device = ?3)) "
    "ORDER BY seq LIMIT ?2";
static const char SQL_DEVICES[] =
    "SELECT device, entries, acked_through, last_seen, failures FROM hq_devices ORDER BY device";
static const char SQL_DEVICE_INSERT[] =
    "INSERT INTO hq_devices(device, secret_enc, created_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
static const char SQL_CHANGE_DELETE[] = "DELETE FROM hq_changes WHERE kind = ?1 AND key = ?2";
static const char SQL_CHANGE_INSERT[] =
    "INSERT INTO hq_changes(kind, key, data, at, device, event_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_CHANGE_INSERT_ONCE[] =
    "INSERT INTO hq_changes(kind, key, data, at, device, event_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
static const char SQL_DEVICE_EVENT[] =
    "INSERT INTO hq_device_events(device, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
static const char SQL_SIGNUP_FIRST[] =
    "SELECT kid, signup_id FROM hq_signups WHERE event_id = ?1 AND phone_hash = ?2 "
    "AND merged_into IS NULL LIMIT 1";
static const char SQL_SIGNUP_INSERT[] =
    "INSERT INTO hq_signups(kid, signup_id, device, event_id, phone_hash, merged_into) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
static const char SQL_CHANGE_GET[] =
    "SELECT data, device FROM hq_changes WHERE kind = ?1 AND key = ?2";
static const char SQL_SIGNUP_NEXT_ID[] =
    "SELECT coalesce(max(signup_id), 0) + 1 FROM hq_signups WHERE kid = ?1";
static const char SQL_SIGNUP_MERGED[] =
    "SELECT merged_into FROM hq_signups WHERE kid = ?1 AND signup_id = ?2";
#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static const char SQL_ENTRIES_OF_KIND[] =
    "SELECT device, id, at, data FROM hq_entries WHERE kind = ?1 ORDER BY received_at, device, seq";

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

static int malformed(struct store_hq_push *j, const char *why);

/* Where a change comes from and whom it is for. */
struct change_scope {
    const char *device; /* the device whose push made it; NULL: HQ's own */
    int64_t event_id;   /* the event it belongs to (served to its holders); 0: none */
    bool once;          /* an existing change of (kind, key) stays as it is */
};

/* Makes data the latest change of (kind, key), within scope. */
static int change_put(struct store_tx *tx, const char *kind, const char *key, const char *data,
                      const struct change_scope *sc)
{
    sqlite3_stmt *st;
    int rc;
    if (!sc->once) {
        if (!(st = conn_stmt(tx->c, SQL_CHANGE_DELETE)))
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if ((rc = store_step_done(st)) != 0)
            return rc;
    }
    if (!(st = conn_stmt(tx->c, sc->once ? SQL_CHANGE_INSERT_ONCE : SQL_CHANGE_INSERT)))
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, store_tx_now(tx));
    if (sc->device)
        sqlite3_bind_text(st, 5, sc->device, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    if (sc->event_id)
        sqlite3_bind_int64(st, 6, sc->event_id);
    else
        sqlite3_bind_null(st, 6);
    return store_step_done(st);
}

/* The same with data as a JSON object (borrowed). */
static int change_put_json(struct store_tx *tx, const char *kind, const char *key, json_t *data,
                           const struct change_scope *sc)
{
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return KIOSKD_ENOMEM;
    int rc = change_put(tx, kind, key, text, sc);
    free(text);
    return rc;
}

/* The push's ticket key, once per kid (a kid names one key). */
static int push_key(struct store_tx *tx, struct store_hq_push *j, json_t *key)
{
    const char *kid = json_string_value(json_object_get(key, "kid"));
    const char *pem = json_string_value(json_object_get(key, "public_pem"));
    if (!key)
        return 0; /* its shape was checked by hqpush_parse */
    json_t *data =
        json_pack("{s:s, s:s, s:s}", "kid", kid, "public_pem", pem, "device", j->auth.device);
    int rc = data ? change_put_json(tx, "key", kid, data,
                                    &(struct change_scope){.device = j->auth.device, .once = true})
                  : KIOSKD_ENOMEM;
    json_decref(data);
    return rc;
}

/* "kid:<id>" of a sign-up's ticket into out, <id> the member id_key of
 * data; false when data has no such pair. */
static bool signup_key(json_t *data, const char *id_key, char out[40])
{
    const char *kid = json_string_value(json_object_get(data, "kid"));
    json_t *id = json_object_get(data, id_key);
    if (!kid || strlen(kid) != 8 || strspn(kid, B64URL) != 8 || !json_is_integer(id))
        return false;
    snprintf(out, 40, "%s:%" JSON_INTEGER_FORMAT, kid, json_integer_value(id));
    return true;
}

/* Records sign-up kid:signup_id of device for the merge rule: first gets
 * "kid:signup_id" of the sign-up for the same event and phone recorded
 * before, that it is merged into, or "" (then it stands). A device holds one
 * sign-up per event and phone, so that one is another device's, or HQ's own
 * when HQ takes a phone twice. A sign-up recorded before keeps what it was. */
static int signup_record(struct store_tx *tx, const char *kid, int64_t signup_id,
                         const char *device, int64_t event_id, const char *phone_hash,
                         char first[40])
{
    first[0] = '\0';
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_MERGED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, signup_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        store_col_text(first, 40, st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? 0 : store_rc(rc);
    if (!(st = conn_stmt(tx->c, SQL_SIGNUP_FIRST)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_text(st, 2, phone_hash, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(first, 40, "%s:%lld", (const char *)sqlite3_column_text(st, 0),
                 (long long)sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    if (!(st = conn_stmt(tx->c, SQL_SIGNUP_INSERT)))
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, signup_id);
    sqlite3_bind_text(st, 3, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, event_id);
    sqlite3_bind_text(st, 5, phone_hash, -1, SQLITE_STATIC);
    if (first[0])
        sqlite3_bind_text(st, 6, first, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    return store_step_done(st);
}

/* A new sign-up entry (data sealed, phone_hash of its phone): recorded for
 * the merge rule, and served as kind signup unless merged into another
 * device's sign-up for the same event and phone. */
static int signup_flow(struct store_tx *tx, struct store_hq_push *j, json_t *data,
                       const char *phone_hash)
{
    char key[40], first[40];
    json_t *ev = json_object_get(data, "event_id");
    const char *source = json_string_value(json_object_get(data, "source"));
    if (!signup_key(data, "signup_id", key) || !json_is_integer(ev) || !phone_hash[0] ||
        (source && strcmp(source, "walkin") == 0))
        return 0; /* a walk-in is over; an entry without phone or kid was pushed before */
    int rc = signup_record(tx, json_string_value(json_object_get(data, "kid")),
                           (int64_t)json_integer_value(json_object_get(data, "signup_id")),
                           j->auth.device, (int64_t)json_integer_value(ev), phone_hash, first);
    if (rc)
        return rc;
    if (first[0]) {
        j->merged++;
        return 0;
    }
    if (json_object_set_new(data, "device", json_string(j->auth.device)) != 0)
        return KIOSKD_ENOMEM;
    rc = change_put_json(
        tx, "signup", key, data,
        &(struct change_scope){.device = j->auth.device, .event_id = json_integer_value(ev)});
    json_object_del(data, "device");
    return rc;
}

/* A new signup_promoted entry: the sign-up served (kind signup) is confirmed
 * now; a sign-up merged or not served is left alone. */
static int promotion_flow(struct store_tx *tx, json_t *data)
{
    char key[40], device[HQ_DEVICE_MAX + 1] = "";
    json_t *served = NULL;
    if (!signup_key(data, "ticket_signup_id", key))
        return 0; /* pushed before promotions named their ticket */
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CHANGE_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, "signup", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        json_error_t err;
        served = json_loadb((const char *)sqlite3_column_text(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0), 0, &err);
        store_col_text(device, sizeof device, st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : store_rc(rc);
    const char *status = json_string_value(json_object_get(served, "status"));
    rc = 0;
    if (status && strcmp(status, "waitlisted") == 0)
        rc = json_object_set_new(served, "status", json_string("confirmed")) == 0
                 ? change_put_json(tx, "signup", key, served,
                                   &(struct change_scope){.device = device[0] ? device : NULL,
                                                          .event_id = json_integer_value(
                                                              json_object_get(served, "event_id"))})
                 : KIOSKD_ENOMEM;
    json_decref(served);
    return rc;
}

/* A new signup_cancelled entry: the ticket it names (kid, ticket_signup_id:
 * the id where the sign-up was taken, issued_at) is revoked everywhere. */
static int revocation_flow(struct store_tx *tx, struct store_hq_push *j, json_t *data)
{
    char key[40];
    json_t *issued = json_object_get(data, "issued_at");
    if (!signup_key(data, "ticket_signup_id", key) || !json_is_integer(issued))
        return 0; /* pushed before cancellations named their ticket */
    json_t *r =
        json_pack("{s:O, s:O, s:O, s:O, s:s}", "kid", json_object_get(data, "kid"), "signup_id",
                  json_object_get(data, "ticket_signup_id"), "event_id",
                  json_object_get(data, "event_id"), "issued_at", issued, "device", j->auth.device);
    int rc = r ? change_put_json(tx, "revocation", key, r,
                                 &(struct change_scope){.device = j->auth.device})
               : KIOSKD_ENOMEM;
    json_decref(r);
    return rc;
}

static int malformed(struct store_hq_push *j, const char *why)
{
    j->verdict = HQ_MALFORMED;
    snprintf(j->why, sizeof j->why, "%s", why);
    return 0;
}

static int store_entry(struct store_tx *tx, struct store_hq_push *j, json_t *e)
{
    const char *kind = json_string_value(json_object_get(e, "kind"));
    json_t *data = json_object_get(e, "data");
    const char *phone = json_string_value(json_object_get(data, "phone"));
    char phone_hash[65] = "";
    int rc = 0;
    if (phone && strcmp(kind, "signup") == 0)
        rc = j->crypto->hash(j->crypto->arg, phone, strlen(phone), phone_hash);
    if (rc == 0)
        rc = j->crypto->seal(j->crypto->arg, kind, data);
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
    if (rc || sqlite3_changes(tx->c->db) == 0)
        return rc; /* stored before: what it brought is there already */
    j->stored++;
    if (strcmp(kind, "signup") == 0)
        return signup_flow(tx, j, data, phone_hash);
    if (strcmp(kind, "signup_cancelled") == 0)
        return revocation_flow(tx, j, data);
    if (strcmp(kind, "signup_promoted") == 0)
        return promotion_flow(tx, data);
    json_t *ev = json_object_get(data, "event_id");
    if (strcmp(kind, "event_created") == 0 && json_is_integer(ev)) {
        if (!(st = conn_stmt(tx->c, SQL_DEVICE_EVENT)))
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, j->auth.device, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)json_integer_value(ev));
        return store_step_done(st);
    }
    return 0;
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
    j->stored = j->received = j->acked_through = j->merged = 0;
    int rc = hq_authenticate(tx, j->crypto, &j->auth, &j->verdict);
    if (rc || j->verdict != HQ_OK)
        return rc;
    const char *why = NULL;
    json_t *doc = hqpush_parse(j->body, j->len, j->auth.device, &why);
    json_t *entries = json_object_get(doc, "entries"), *e;
    size_t i;
    if (!doc)
        return malformed(j, why);
    rc = push_key(tx, j, json_object_get(doc, "key"));
    if (rc == 0) {
        json_array_foreach(entries, i, e)
        {
            if ((rc = store_entry(tx, j, e)) != 0)
                break;
        }
        j->received = (int64_t)json_array_size(entries);
        if (rc == 0)
            rc = advance_ack(tx, j);
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
                list, json_pack("{s:s, s:I, s:I, s:o, s:I}", "device",
                                (const char *)sqlite3_column_text(st, 0), "entries",
                                (json_int_t)sqlite3_column_int64(st, 1), "acked_through",
                                (json_int_t)sqlite3_column_int64(st, 2), "last_seen", last,
                                "failures", (json_int_t)sqlite3_column_int64(st, 4))) != 0) {
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
        char *text = NULL;
        rc = j->crypto->seal(j->crypto->arg, kind, data);
        if (rc == 0 && !(text = json_dumps(data, JSON_COMPACT)))
            rc = KIOSKD_ENOMEM;
        json_decref(data);
        if (rc == 0)
            rc = change_put(tx, kind, key, text, &(struct change_scope){0});
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

static int export_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_export *j = (struct store_hq_export *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ENTRIES_OF_KIND);
    int rc;
    j->rows = 0;
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->kind, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_error_t err;
        json_t *data = json_loadb((const char *)sqlite3_column_text(st, 3),
                                  (size_t)sqlite3_column_bytes(st, 3), 0, &err);
        int xrc = data ? j->crypto->unseal(j->crypto->arg, j->kind, data) : KIOSKD_EIO;
        if (xrc == 0)
            xrc = j->row(j->arg, (const char *)sqlite3_column_text(st, 0),
                         (const char *)sqlite3_column_text(st, 1),
                         (const char *)sqlite3_column_text(st, 2), data);
        json_decref(data);
        if (xrc) {
            sqlite3_reset(st);
            return xrc;
        }
        j->rows++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

void store_hq_export_init(struct store_hq_export *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = export_run;
}

#define HQ_DEVICE "hq" /* the device name of what HQ takes itself */

static int hq_signup_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_signup *j = (struct store_hq_signup *)job;
    char phone_hash[65], key[40];
    int64_t id = 0;
    json_t *data = NULL;
    int rc = j->crypto->hash(j->crypto->arg, j->phone, strlen(j->phone), phone_hash);
    sqlite3_stmt *st = rc ? NULL : conn_stmt(tx->c, SQL_SIGNUP_NEXT_ID);
    if (rc)
        return rc;
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, j->kid, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if ((rc = signup_record(tx, j->kid, id, HQ_DEVICE, j->event_id, phone_hash, j->merged_into)) !=
            0 ||
        j->merged_into[0])
        return rc;
    j->signup_id = id;
    json_t *k = json_pack("{s:s, s:s, s:s}", "kid", j->kid, "public_pem", j->public_pem, "device",
                          HQ_DEVICE);
    rc = k ? change_put_json(tx, "key", j->kid, k, &(struct change_scope){.once = true})
           : KIOSKD_ENOMEM;
    json_decref(k);
    if (rc)
        return rc;
    data = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kid", j->kid,
                     "signup_id", (json_int_t)id, "event_id", (json_int_t)j->event_id, "issued_at",
                     (json_int_t)j->issued_at, "status", "confirmed", "source", "bot",
                     "consent_version", j->consent_version, "name_masked", j->name_masked,
                     "phone_last4", j->phone_last4, "name", j->name, "phone", j->phone);
    if (!data)
        return KIOSKD_ENOMEM;
    if ((rc = j->crypto->seal(j->crypto->arg, "signup", data)) == 0 &&
        (rc = json_object_set_new(data, "device", json_string(HQ_DEVICE)) == 0
                  ? 0
                  : KIOSKD_ENOMEM) == 0) {
        snprintf(key, sizeof key, "%s:%lld", j->kid, (long long)id);
        rc = change_put_json(tx, "signup", key, data,
                             &(struct change_scope){.event_id = j->event_id});
    }
    json_decref(data);
    return rc;
}

void store_hq_signup_init(struct store_hq_signup *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = hq_signup_run;
}
