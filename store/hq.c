/* The jobs of `kioskd hq`'s storage (store/hq.h), written once for SQLite and
 * PostgreSQL through store/hqdb.h; the schema is store/hq_migrations/. */
#include "store/hq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hqpush.h"
#include "core/status.h"
#include "store/hqdb.h"
#include "store/hqevents.h"
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
/* reads the device's cursor and locks its row to the end of the transaction,
 * so that pushes of one device to several HQ processes on one PostgreSQL
 * database are serialized (H2) */
static const char SQL_ACKED[] = "UPDATE hq_devices SET acked_through = acked_through "
                                "WHERE device = ?1 RETURNING acked_through";
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
    "SELECT seq, kind, data, (SELECT de.event_id FROM hq_device_events de "
    "WHERE de.device = ?3 AND de.key = c.event_key) FROM hq_changes c "
    "WHERE seq > ?1 AND (device IS NULL OR device <> ?3) "
    "AND (event_key IS NULL OR event_key IN "
    "(SELECT de.key FROM hq_device_events de WHERE de.device = ?3)) "
    "AND (branch IS NULL OR branch = ?3 "
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
    "INSERT INTO hq_changes(kind, key, data, at, device, event_key, branch) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_CHANGE_INSERT_ONCE[] =
    "INSERT INTO hq_changes(kind, key, data, at, device, event_key, branch) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
static const char SQL_DEVICE_EVENT[] =
    "INSERT INTO hq_device_events(device, event_id, key) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
static const char SQL_EVENT_KEY_OF[] =
    "SELECT key FROM hq_device_events WHERE device = ?1 AND event_id = ?2";
static const char SQL_EVENT_BRANCH_OF_KEY[] =
    "SELECT branch FROM hq_changes WHERE kind = 'event' AND key = ?1 AND branch IS NOT NULL";
static const char SQL_EVENT_CANCELLED[] =
    "SELECT data FROM hq_changes WHERE kind = 'event' AND key = ?1";
static const char SQL_DEVICE_EVENT_OF_KEY[] =
    "SELECT event_id FROM hq_device_events WHERE device = ?1 AND key = ?2";
static const char SQL_SIGNUPS_OF_EVENT[] =
    "SELECT key, data, device FROM hq_changes WHERE kind = 'signup' AND event_key = ?1 "
    "ORDER BY seq";
static const char SQL_SIGNUP_FIRST[] =
    "SELECT kid, signup_id FROM hq_signups WHERE event_key = ?1 AND phone_hash = ?2 "
    "AND merged_into IS NULL AND cancelled = 0 LIMIT 1";
static const char SQL_SIGNUP_CANCELLED[] =
    "UPDATE hq_signups SET cancelled = ?3 WHERE kid = ?1 AND signup_id = ?2 AND cancelled <> ?3";
static const char SQL_SIGNUP_INSERT[] =
    "INSERT INTO hq_signups(kid, signup_id, device, event_id, phone_hash, merged_into, "
    "event_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
static const char SQL_CHANGE_GET[] =
    "SELECT data, device, event_key FROM hq_changes WHERE kind = ?1 AND key = ?2";
static const char SQL_SIGNUP_NEXT_ID[] =
    "SELECT coalesce(max(signup_id), 0) + 1 FROM hq_signups WHERE kid = ?1";
static const char SQL_SIGNUP_MERGED[] =
    "SELECT merged_into FROM hq_signups WHERE kid = ?1 AND signup_id = ?2";
#define HQ_DEVICE "hq" /* the device name of what HQ takes itself */
#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static const char SQL_DEVICE_EVENTS[] =
    "SELECT device, event_id, key FROM hq_device_events WHERE key IS NOT NULL";
/* the sign-ups HQ took itself (HQ's bot, kioskd hq signup) that stand, with
 * the id of their event at its branch (for those taken before it linked it) */
static const char SQL_OWN_SIGNUPS[] =
    "SELECT c.key, c.data, c.event_key, (SELECT min(de.event_id) FROM hq_device_events de "
    "WHERE de.key = c.event_key), s.cancelled FROM hq_signups s JOIN hq_changes c "
    "ON c.kind = 'signup' "
    "AND c.key = s.kid || ':' || s.signup_id WHERE s.device = 'hq' AND s.merged_into IS NULL "
    "ORDER BY s.kid, s.signup_id";
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
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_DEVICE_FAILED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, device);
    return hqdb_exec(&st, NULL);
}

/* Checks the request's signature with the device's secret and records it as
 * seen (H3, H4). Sets *verdict; returns 0 or a KIOSKD_E* code. */
static int hq_authenticate(struct store_tx *tx, const struct store_hq_crypto *crypto,
                           const struct store_hq_auth *a, enum hq_verdict *verdict)
{
    unsigned char enc[256];
    size_t len;
    int64_t changes = 0;
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_DEVICE_SECRET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, a->device);
    int rc = hqdb_step(&st);
    if (rc == HQDB_DONE) {
        hqdb_reset(&st);
        *verdict = HQ_UNKNOWN_DEVICE;
        return 0;
    }
    if (rc != HQDB_ROW) {
        hqdb_reset(&st);
        return rc;
    }
    const void *blob = hqdb_column_blob(&st, 0, &len);
    if (!blob || len > sizeof enc) {
        hqdb_reset(&st);
        return KIOSKD_EIO;
    }
    memcpy(enc, blob, len);
    hqdb_reset(&st);
    rc = crypto->verify(crypto->arg, a, enc, len);
    if (rc == KIOSKD_EBADSIG) {
        *verdict = HQ_BAD_SIGNATURE;
        return device_failed(tx, a->device);
    }
    if (rc)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_SIG_INSERT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, a->sig);
    hqdb_bind_text(&st, 2, a->device);
    hqdb_bind_int64(&st, 3, a->ts);
    if ((rc = hqdb_exec(&st, &changes)) != 0)
        return rc;
    if (changes == 0) {
        *verdict = HQ_REPLAYED;
        return device_failed(tx, a->device);
    }
    if (hqdb_prepare(tx, &st, SQL_SIG_PRUNE) != 0)
        return KIOSKD_EIO;
    hqdb_bind_int64(&st, 1, store_tx_now(tx) / 1000000 - 2 * a->window);
    if ((rc = hqdb_exec(&st, NULL)) != 0)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_DEVICE_SEEN) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, a->device);
    hqdb_bind_int64(&st, 2, store_tx_now(tx));
    if ((rc = hqdb_exec(&st, NULL)) != 0)
        return rc;
    *verdict = HQ_OK;
    return 0;
}

static int malformed(struct store_hq_push *j, const char *why);

/* Where a change comes from and whom it is for. */
struct change_scope {
    const char *device;    /* the device whose push made it; NULL: HQ's own */
    const char *event_key; /* HQ's key of its event (served to its holders); NULL: none */
    const char *branch;    /* served to this device and its area's only; NULL: to all */
    bool once;             /* an existing change of (kind, key) stays as it is */
};

/* Makes data the latest change of (kind, key), within scope. */
static int change_put(struct store_tx *tx, const char *kind, const char *key, const char *data,
                      const struct change_scope *sc)
{
    struct hqdb_stmt st;
    int rc = hqdb_lock_changes(tx);
    if (rc)
        return rc;
    if (!sc->once) {
        if (hqdb_prepare(tx, &st, SQL_CHANGE_DELETE) != 0)
            return KIOSKD_EIO;
        hqdb_bind_text(&st, 1, kind);
        hqdb_bind_text(&st, 2, key);
        if ((rc = hqdb_exec(&st, NULL)) != 0)
            return rc;
    }
    if (hqdb_prepare(tx, &st, sc->once ? SQL_CHANGE_INSERT_ONCE : SQL_CHANGE_INSERT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, kind);
    hqdb_bind_text(&st, 2, key);
    hqdb_bind_text(&st, 3, data);
    hqdb_bind_int64(&st, 4, store_tx_now(tx));
    if (sc->device)
        hqdb_bind_text(&st, 5, sc->device);
    else
        hqdb_bind_null(&st, 5);
    if (sc->event_key)
        hqdb_bind_text(&st, 6, sc->event_key);
    else
        hqdb_bind_null(&st, 6);
    if (sc->branch)
        hqdb_bind_text(&st, 7, sc->branch);
    else
        hqdb_bind_null(&st, 7);
    return hqdb_exec(&st, NULL);
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

/* Marks sign-up kid:signup_id cancelled where it is held, or not. */
static int signup_cancelled_set(struct store_tx *tx, const char *kid, int64_t signup_id,
                                bool cancelled)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_SIGNUP_CANCELLED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, kid);
    hqdb_bind_int64(&st, 2, signup_id);
    hqdb_bind_int64(&st, 3, cancelled);
    return hqdb_exec(&st, NULL);
}

/* Records sign-up kid:signup_id of device for the merge rule: first gets
 * "kid:signup_id" of the sign-up for the same event and phone recorded
 * before, that it is merged into, or "" (then it stands). A device holds one
 * sign-up per event and phone, so that one is another device's, or HQ's own
 * when HQ takes a phone twice; one cancelled where it is held is passed
 * over. A sign-up recorded before keeps what it was, but is no longer
 * cancelled (its device took it again). */
static int signup_record(struct store_tx *tx, const char *kid, int64_t signup_id,
                         const char *device, int64_t event_id, const char *event_key,
                         const char *phone_hash, char first[40])
{
    first[0] = '\0';
    struct hqdb_stmt st;
    int rc = hqdb_lock_changes(tx); /* two processes: the second sees the first */
    if (rc)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_SIGNUP_MERGED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, kid);
    hqdb_bind_int64(&st, 2, signup_id);
    rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        snprintf(first, 40, "%s", hqdb_column_text(&st, 0));
    hqdb_reset(&st);
    if (rc == HQDB_ROW) /* taken again where it was cancelled */
        return signup_cancelled_set(tx, kid, signup_id, false);
    if (rc != HQDB_DONE)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_SIGNUP_FIRST) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, event_key);
    hqdb_bind_text(&st, 2, phone_hash);
    rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        snprintf(first, 40, "%s:%lld", hqdb_column_text(&st, 0),
                 (long long)hqdb_column_int64(&st, 1));
    hqdb_reset(&st);
    if (rc != HQDB_ROW && rc != HQDB_DONE)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_SIGNUP_INSERT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, kid);
    hqdb_bind_int64(&st, 2, signup_id);
    hqdb_bind_text(&st, 3, device);
    hqdb_bind_int64(&st, 4, event_id);
    hqdb_bind_text(&st, 5, phone_hash);
    if (first[0])
        hqdb_bind_text(&st, 6, first);
    else
        hqdb_bind_null(&st, 6);
    hqdb_bind_text(&st, 7, event_key);
    return hqdb_exec(&st, NULL);
}

/* HQ's key of event_id at device into key: the key it was imported under when
 * the device linked it, else DEVICE/ID (an event the device created). */
static int event_key_of(struct store_tx *tx, const char *device, int64_t event_id,
                        char key[HQ_EVENT_KEY_MAX + 1], bool *known)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_EVENT_KEY_OF) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, device);
    hqdb_bind_int64(&st, 2, event_id);
    int rc = hqdb_step(&st);
    *known = rc == HQDB_ROW && !hqdb_column_null(&st, 0);
    if (*known)
        snprintf(key, HQ_EVENT_KEY_MAX + 1, "%s", hqdb_column_text(&st, 0));
    else
        snprintf(key, HQ_EVENT_KEY_MAX + 1, "%s/%lld", device, (long long)event_id);
    hqdb_reset(&st);
    return rc == HQDB_ROW || rc == HQDB_DONE ? 0 : rc;
}

/* A new sign-up entry (data sealed, phone_hash of its phone): recorded for
 * the merge rule, and served as kind signup unless merged into another
 * device's sign-up for the same event and phone. */
static int signup_flow(struct store_tx *tx, struct store_hq_push *j, json_t *data,
                       const char *phone_hash)
{
    char key[40], first[40], event_key[HQ_EVENT_KEY_MAX + 1];
    bool known;
    json_t *ev = json_object_get(data, "event_id");
    const char *source = json_string_value(json_object_get(data, "source"));
    if (!signup_key(data, "signup_id", key) || !json_is_integer(ev) || !phone_hash[0] ||
        (source && strcmp(source, "walkin") == 0))
        return 0; /* a walk-in is over; an entry without phone or kid was pushed before */
    int rc = event_key_of(tx, j->auth.device, (int64_t)json_integer_value(ev), event_key, &known);
    if (rc == 0)
        rc = signup_record(tx, json_string_value(json_object_get(data, "kid")),
                           (int64_t)json_integer_value(json_object_get(data, "signup_id")),
                           j->auth.device, (int64_t)json_integer_value(ev), event_key, phone_hash,
                           first);
    if (rc)
        return rc;
    if (first[0]) {
        j->merged++;
        return 0;
    }
    if (json_object_set_new(data, "device", json_string(j->auth.device)) != 0)
        return KIOSKD_ENOMEM;
    rc = change_put_json(tx, "signup", key, data,
                         &(struct change_scope){.device = j->auth.device, .event_key = event_key});
    json_object_del(data, "device");
    return rc;
}

/* A new signup_promoted entry: the sign-up served (kind signup) is confirmed
 * now; a sign-up merged or not served is left alone. */
static int promotion_flow(struct store_tx *tx, json_t *data)
{
    char key[40], device[HQ_DEVICE_MAX + 1] = "", event_key[HQ_EVENT_KEY_MAX + 1] = "";
    json_t *served = NULL;
    if (!signup_key(data, "ticket_signup_id", key))
        return 0; /* pushed before promotions named their ticket */
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_CHANGE_GET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, "signup");
    hqdb_bind_text(&st, 2, key);
    int rc = hqdb_step(&st);
    if (rc == HQDB_ROW) {
        json_error_t err;
        size_t len;
        const char *text = hqdb_column_blob(&st, 0, &len);
        served = text ? json_loadb(text, len, 0, &err) : NULL;
        snprintf(device, sizeof device, "%s", hqdb_column_text(&st, 1));
        snprintf(event_key, sizeof event_key, "%s", hqdb_column_text(&st, 2));
    }
    hqdb_reset(&st);
    if (rc != HQDB_ROW)
        return rc == HQDB_DONE ? 0 : rc;
    const char *status = json_string_value(json_object_get(served, "status"));
    rc = 0;
    if (status && strcmp(status, "waitlisted") == 0)
        rc = json_object_set_new(served, "status", json_string("confirmed")) == 0
                 ? change_put_json(
                       tx, "signup", key, served,
                       &(struct change_scope){.device = device[0] ? device : NULL,
                                              .event_key = event_key[0] ? event_key : NULL})
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
    return rc ? rc
              : signup_cancelled_set(
                    tx, json_string_value(json_object_get(data, "kid")),
                    (int64_t)json_integer_value(json_object_get(data, "ticket_signup_id")), true);
}

static int malformed(struct store_hq_push *j, const char *why)
{
    j->verdict = HQ_MALFORMED;
    snprintf(j->why, sizeof j->why, "%s", why);
    return 0;
}

/* A sign-up change kept for serving again: (key, data, device). */
struct served_signup {
    char *key, *data, *device; /* device NULL: HQ's own */
};

/* Serves again, after every change there is, the sign-ups of the event
 * event_key that a device has just linked: those taken before it linked it
 * (at HQ, for an event HQ imported) were left out of its pulls, and its
 * cursor is past them. */
static int signups_served_again(struct store_tx *tx, const char *event_key)
{
    struct hqdb_stmt st;
    struct served_signup *v = NULL;
    size_t n = 0, cap = 0;
    int rc = hqdb_lock_changes(tx);
    if (rc == 0 && hqdb_prepare(tx, &st, SQL_SIGNUPS_OF_EVENT) != 0)
        rc = KIOSKD_EIO;
    if (rc)
        return rc;
    hqdb_bind_text(&st, 1, event_key);
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        if (n == cap) {
            struct served_signup *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
            if (!nv) {
                rc = KIOSKD_ENOMEM;
                break;
            }
            v = nv;
        }
        size_t len;
        const char *data = hqdb_column_blob(&st, 1, &len);
        struct served_signup *s = &v[n++];
        s->key = strdup(hqdb_column_text(&st, 0));
        s->data = data ? strndup(data, len) : NULL;
        s->device = hqdb_column_null(&st, 2) ? NULL : strdup(hqdb_column_text(&st, 2));
        if (!s->key || !s->data || (!hqdb_column_null(&st, 2) && !s->device)) {
            rc = KIOSKD_ENOMEM;
            break;
        }
    }
    hqdb_reset(&st);
    rc = rc == HQDB_DONE ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = change_put(tx, "signup", v[i].key, v[i].data,
                        &(struct change_scope){.device = v[i].device, .event_key = event_key});
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].data);
        free(v[i].device);
    }
    free(v);
    return rc;
}

/* Whether an entry of kind brings more than itself (the flows above, run
 * only when it is new, so its insert must be waited for): sign-ups,
 * promotions and cancellations that name a ticket, events created, linked or
 * cancelled (hq_events, store/hqevents.h). The
 * others are deferred (one round trip for many on PostgreSQL). */
static bool brings_more(const char *kind, json_t *data)
{
    if (strcmp(kind, "event_created") == 0 || strcmp(kind, "event_linked") == 0 ||
        strcmp(kind, "event_cancelled") == 0)
        return json_is_integer(json_object_get(data, "event_id"));
    return json_object_get(data, "kid") &&
           (strcmp(kind, "signup") == 0 || strcmp(kind, "signup_cancelled") == 0 ||
            strcmp(kind, "signup_promoted") == 0);
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
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_ENTRY_INSERT) != 0) {
        free(text);
        return KIOSKD_EIO;
    }
    hqdb_bind_text(&st, 1, json_string_value(json_object_get(e, "id")));
    hqdb_bind_text(&st, 2, j->auth.device);
    hqdb_bind_int64(&st, 3, (int64_t)json_integer_value(json_object_get(e, "seq")));
    hqdb_bind_text(&st, 4, kind);
    hqdb_bind_text(&st, 5, json_string_value(json_object_get(e, "at")));
    hqdb_bind_text(&st, 6, text);
    hqdb_bind_int64(&st, 7, store_tx_now(tx));
    if (!brings_more(kind, data)) {
        rc = hqdb_defer(&st, &j->stored); /* counted by the flush before advance_ack */
        free(text);
        return rc;
    }
    int64_t changes = 0;
    rc = hqdb_exec(&st, &changes);
    free(text);
    if (rc || changes == 0)
        return rc; /* stored before: what it brought is there already */
    j->stored++;
    if (strcmp(kind, "signup") == 0)
        return signup_flow(tx, j, data, phone_hash);
    if (strcmp(kind, "signup_cancelled") == 0)
        return revocation_flow(tx, j, data);
    if (strcmp(kind, "signup_promoted") == 0)
        return promotion_flow(tx, data);
    json_t *ev = json_object_get(data, "event_id");
    const char *linked = json_string_value(json_object_get(data, "key"));
    bool created = strcmp(kind, "event_created") == 0;
    if ((created || (strcmp(kind, "event_linked") == 0 && linked && linked[0] &&
                     strlen(linked) <= HQ_EVENT_KEY_MAX)) &&
        json_is_integer(ev) && json_integer_value(ev) > 0) {
        char own[HQ_EVENT_KEY_MAX + 1];
        snprintf(own, sizeof own, "%s/%lld", j->auth.device, (long long)json_integer_value(ev));
        if (hqdb_prepare(tx, &st, SQL_DEVICE_EVENT) != 0)
            return KIOSKD_EIO;
        hqdb_bind_text(&st, 1, j->auth.device);
        hqdb_bind_int64(&st, 2, (int64_t)json_integer_value(ev));
        hqdb_bind_text(&st, 3, created ? own : linked);
        int64_t added = 0;
        rc = hqdb_exec(&st, &added);
        if (rc == 0 && added && !created)
            rc = signups_served_again(tx, linked);
    }
    return rc ? rc : hqevents_entry(tx, j->auth.device, kind, data);
}

static int advance_ack(struct store_tx *tx, struct store_hq_push *j)
{
    int64_t acked = 0;
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_ACKED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->auth.device);
    int rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        acked = hqdb_column_int64(&st, 0);
    hqdb_reset(&st);
    if (rc != HQDB_ROW)
        return rc == HQDB_DONE ? KIOSKD_ENOTFOUND : rc;
    if (hqdb_prepare(tx, &st, SQL_ACK_RUN_END) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->auth.device);
    hqdb_bind_int64(&st, 2, acked);
    rc = hqdb_step(&st);
    if (rc == HQDB_ROW && !hqdb_column_null(&st, 0))
        acked = hqdb_column_int64(&st, 0);
    hqdb_reset(&st);
    if (rc != HQDB_ROW)
        return rc < 0 ? rc : KIOSKD_EIO;
    if (hqdb_prepare(tx, &st, SQL_DEVICE_ACK) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->auth.device);
    hqdb_bind_int64(&st, 2, acked);
    hqdb_bind_int64(&st, 3, j->stored);
    j->acked_through = acked;
    return hqdb_exec(&st, NULL);
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
    if (rc == 0 && j->verdict == HQ_OK) {
        json_array_foreach(entries, i, e)
        {
            if ((rc = store_entry(tx, j, e)) != 0)
                break;
        }
        j->received = (int64_t)json_array_size(entries);
        if (rc == 0)
            rc = hqdb_flush(tx);
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
    struct hqdb_stmt st;
    if (!changes || hqdb_prepare(tx, &st, SQL_CHANGES_AFTER) != 0) {
        rc = changes ? KIOSKD_EIO : KIOSKD_ENOMEM;
        goto out;
    }
    hqdb_bind_int64(&st, 1, j->since);
    hqdb_bind_int64(&st, 2, j->limit + 1);
    hqdb_bind_text(&st, 3, j->auth.device);
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        if (j->count == j->limit) {
            more = true;
            break;
        }
        const char *kind = hqdb_column_text(&st, 1);
        json_error_t err;
        size_t len;
        const char *text = hqdb_column_blob(&st, 2, &len);
        json_t *data = text ? json_loadb(text, len, 0, &err) : NULL;
        int urc = data ? j->crypto->unseal(j->crypto->arg, kind, data) : KIOSKD_EIO;
        if (urc == 0 && !hqdb_column_null(&st, 3) &&
            json_object_set_new(data, "event_id", json_integer(hqdb_column_int64(&st, 3))) != 0)
            urc = KIOSKD_ENOMEM; /* the event's id at this device */
        if (urc || json_array_append_new(
                       changes, json_pack("{s:s, s:o}", "kind", kind, "data", data)) != 0) {
            if (urc)
                json_decref(data);
            rc = urc ? urc : KIOSKD_ENOMEM;
            hqdb_reset(&st);
            goto out;
        }
        cursor = hqdb_column_int64(&st, 0);
        j->count++;
    }
    hqdb_reset(&st);
    if (rc < 0)
        goto out;
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
    struct hqdb_stmt st;
    int rc;
    free(j->answer);
    j->answer = NULL;
    if (!list || hqdb_prepare(tx, &st, SQL_DEVICES) != 0) {
        json_decref(list);
        return list ? KIOSKD_EIO : KIOSKD_ENOMEM;
    }
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        char seen[64];
        json_t *last = json_null();
        if (!hqdb_column_null(&st, 3)) {
            rfc3339_utc(hqdb_column_int64(&st, 3), seen);
            last = json_string(seen);
        }
        if (json_array_append_new(list,
                                  json_pack("{s:s, s:I, s:I, s:o, s:I, s:s}", "device",
                                            hqdb_column_text(&st, 0), "entries",
                                            (json_int_t)hqdb_column_int64(&st, 1), "acked_through",
                                            (json_int_t)hqdb_column_int64(&st, 2), "last_seen",
                                            last, "failures", (json_int_t)hqdb_column_int64(&st, 4),
                                            "area", hqdb_column_text(&st, 5))) != 0) {
            rc = KIOSKD_ENOMEM;
            break;
        }
    }
    hqdb_reset(&st);
    if (rc != HQDB_DONE) {
        json_decref(list);
        return rc < 0 ? rc : KIOSKD_EIO;
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
    struct hqdb_stmt st;
    int64_t changes = 0;
    if (hqdb_prepare(tx, &st, SQL_DEVICE_INSERT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->device);
    hqdb_bind_blob(&st, 2, j->secret_enc, j->secret_enc_len);
    hqdb_bind_int64(&st, 3, store_tx_now(tx));
    hqdb_bind_text(&st, 4, j->area);
    int rc = hqdb_exec(&st, &changes);
    if (rc)
        return rc;
    j->verdict = changes ? HQ_OK : HQ_EXISTS;
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
    tx->no_retry = true; /* the rows come from an iterator that cannot start over */
    while ((rc = j->next(j->arg, &kind, key, &data)) == 1) {
        char *text = NULL, branch[HQ_DEVICE_MAX + 1] = "";
        const char *b = json_string_value(json_object_get(data, "branch"));
        if (b)
            snprintf(branch, sizeof branch, "%s", b);
        rc = strcmp(kind, "event") == 0 ? hqevents_imported(tx, key, data) : 0;
        if (rc == 0)
            rc = j->crypto->seal(j->crypto->arg, kind, data);
        if (rc == 0 && !(text = json_dumps(data, JSON_COMPACT)))
            rc = KIOSKD_ENOMEM;
        json_decref(data);
        if (rc == 0)
            rc = change_put(tx, kind, key, text,
                            &(struct change_scope){.branch = branch[0] ? branch : NULL});
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

/* A device's event id and HQ's key of it (hq_device_events), for the export. */
struct device_event {
    char device[HQ_DEVICE_MAX + 1];
    int64_t event_id;
    char key[HQ_EVENT_KEY_MAX + 1];
};

/* Every event HQ keys, read before the entries (one statement at a time). */
static int device_events_read(struct store_tx *tx, struct device_event **out, size_t *n)
{
    struct hqdb_stmt st;
    size_t cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (hqdb_prepare(tx, &st, SQL_DEVICE_EVENTS) != 0)
        return KIOSKD_EIO;
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        if (*n == cap) {
            struct device_event *v = realloc(*out, (cap = cap ? cap * 2 : 64) * sizeof *v);
            if (!v) {
                rc = KIOSKD_ENOMEM;
                break;
            }
            *out = v;
        }
        struct device_event *e = &(*out)[(*n)++];
        snprintf(e->device, sizeof e->device, "%s", hqdb_column_text(&st, 0));
        e->event_id = hqdb_column_int64(&st, 1);
        snprintf(e->key, sizeof e->key, "%s", hqdb_column_text(&st, 2));
    }
    hqdb_reset(&st);
    return rc == HQDB_DONE ? 0 : rc;
}

/* HQ's key of the event data names at device into key ("" when none). */
static void export_event_key(const struct device_event *v, size_t n, const char *device,
                             json_t *data, char key[HQ_EVENT_KEY_MAX + 1])
{
    json_t *ev = json_object_get(data, "event_id");
    key[0] = '\0';
    if (!json_is_integer(ev))
        return;
    int64_t id = (int64_t)json_integer_value(ev);
    for (size_t i = 0; i < n; i++)
        if (v[i].event_id == id && strcmp(v[i].device, device) == 0) {
            snprintf(key, HQ_EVENT_KEY_MAX + 1, "%s", v[i].key);
            return;
        }
    snprintf(key, HQ_EVENT_KEY_MAX + 1, "%s/%lld", device, (long long)id);
}

/* The data of column col of an export's row, unsealed (a new reference),
 * into *data (NULL on error); 0 or a KIOSKD_E* code. */
static int export_data(struct store_hq_export *j, struct hqdb_stmt *st, int col, json_t **data)
{
    json_error_t err;
    size_t len;
    const char *text = hqdb_column_blob(st, col, &len);
    *data = text ? json_loadb(text, len, 0, &err) : NULL;
    int rc = *data ? j->crypto->unseal(j->crypto->arg, j->kind, *data) : KIOSKD_EIO;
    if (rc) {
        json_decref(*data);
        *data = NULL;
    }
    return rc;
}

/* Hands j->row one row (rc 0: data, which it frees, is read) and counts it;
 * 0 or the KIOSKD_E* code that stops the export. */
static int export_give(struct store_hq_export *j, int rc, json_t *data, const char *device,
                       const char *id, const char *at, const char *event_key)
{
    if (rc == 0)
        rc = j->row(j->arg, device, id, at, event_key, data);
    json_decref(data);
    j->rows += rc == 0;
    return rc;
}

/* Hands j->row the sign-ups HQ took itself, as device "hq": entry id their
 * ticket's "kid:signup_id", at the time it was issued. */
static int export_own_signups(struct store_tx *tx, struct store_hq_export *j)
{
    struct hqdb_stmt st;
    int rc;
    if (hqdb_prepare(tx, &st, SQL_OWN_SIGNUPS) != 0)
        return KIOSKD_EIO;
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        char at[64] = "";
        json_t *data;
        int xrc = export_data(j, &st, 1, &data);
        json_t *ev = json_object_get(data, "event_id");
        if (xrc == 0 && (!json_is_integer(ev) || json_integer_value(ev) == 0) &&
            !hqdb_column_null(&st, 3) &&
            json_object_set_new(data, "event_id", json_integer(hqdb_column_int64(&st, 3))) != 0)
            xrc = KIOSKD_ENOMEM; /* taken before its branch linked the event */
        if (xrc == 0 && hqdb_column_int64(&st, 4) &&
            json_object_set_new(data, "status", json_string("cancelled")) != 0)
            xrc = KIOSKD_ENOMEM; /* cancelled at its branch */
        if (xrc == 0)
            rfc3339_utc((int64_t)json_integer_value(json_object_get(data, "issued_at")) * 1000000,
                        at);
        if ((xrc = export_give(j, xrc, data, HQ_DEVICE, hqdb_column_text(&st, 0), at,
                               hqdb_column_text(&st, 2))) != 0) {
            rc = xrc;
            break;
        }
    }
    hqdb_reset(&st);
    return rc == HQDB_DONE ? 0 : rc;
}

static int export_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_export *j = (struct store_hq_export *)job;
    struct hqdb_stmt st;
    struct device_event *events = NULL;
    size_t nevents = 0;
    char key[HQ_EVENT_KEY_MAX + 1] = "";
    j->rows = 0;
    tx->no_retry = true; /* the rows already given to j->row cannot be taken back */
    int rc = device_events_read(tx, &events, &nevents);
    if (rc == 0 && hqdb_prepare(tx, &st, SQL_ENTRIES_OF_KIND) != 0)
        rc = KIOSKD_EIO;
    if (rc) {
        free(events);
        return rc;
    }
    hqdb_bind_text(&st, 1, j->kind);
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        json_t *data;
        int xrc = export_data(j, &st, 3, &data);
        if (xrc == 0)
            export_event_key(events, nevents, hqdb_column_text(&st, 0), data, key);
        if ((xrc = export_give(j, xrc, data, hqdb_column_text(&st, 0), hqdb_column_text(&st, 1),
                               hqdb_column_text(&st, 2), key)) != 0) {
            rc = xrc;
            break;
        }
    }
    hqdb_reset(&st);
    free(events);
    if (rc == HQDB_DONE && strcmp(j->kind, "signup") == 0)
        return export_own_signups(tx, j);
    return rc == HQDB_DONE ? 0 : rc;
}

void store_hq_export_init(struct store_hq_export *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = export_run;
}

/* The branch of the event HQ imported under j->event_key and its id there (0
 * while not linked) into j; *known false when no event has that key. */
static int event_of_key(struct store_tx *tx, struct store_hq_signup *j,
                        char key[HQ_EVENT_KEY_MAX + 1], bool *known)
{
    struct hqdb_stmt st;
    *known = false;
    j->event_id = 0;
    if (hqdb_prepare(tx, &st, SQL_EVENT_BRANCH_OF_KEY) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->event_key);
    int rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        snprintf(j->event_device, sizeof j->event_device, "%s", hqdb_column_text(&st, 0));
    hqdb_reset(&st);
    if (rc != HQDB_ROW)
        return rc == HQDB_DONE ? 0 : rc;
    *known = true;
    snprintf(key, HQ_EVENT_KEY_MAX + 1, "%s", j->event_key);
    if (hqdb_prepare(tx, &st, SQL_DEVICE_EVENT_OF_KEY) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->event_device);
    hqdb_bind_text(&st, 2, j->event_key);
    rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        j->event_id = hqdb_column_int64(&st, 0);
    hqdb_reset(&st);
    return rc == HQDB_ROW || rc == HQDB_DONE ? 0 : rc;
}

/* 1 when HQ imported event key as cancelled, else 0 or a KIOSKD_E* code. */
static int event_cancelled_at_hq(struct store_tx *tx, const char *key)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_EVENT_CANCELLED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, key);
    int rc = hqdb_step(&st), cancelled = 0;
    if (rc == HQDB_ROW) {
        size_t len;
        const char *text = hqdb_column_blob(&st, 0, &len);
        json_error_t err;
        json_t *data = text ? json_loadb(text, len, 0, &err) : NULL;
        const char *status = json_string_value(json_object_get(data, "status"));
        cancelled = status && strcmp(status, "cancelled") == 0;
        json_decref(data);
    }
    hqdb_reset(&st);
    return rc == HQDB_ROW ? cancelled : rc == HQDB_DONE ? 0 : rc;
}

int store_hq_signup_tx(struct store_tx *tx, struct store_hq_signup *j)
{
    char phone_hash[65], key[40], event_key[HQ_EVENT_KEY_MAX + 1];
    int64_t id = 0;
    bool known;
    json_t *data = NULL;
    int rc = j->event_key[0] ? event_of_key(tx, j, event_key, &known)
                             : event_key_of(tx, j->event_device, j->event_id, event_key, &known);
    if (rc == 0 && !known)
        return KIOSKD_ENOTFOUND; /* the device has not pushed or linked that event */
    if (rc == 0 && (rc = event_cancelled_at_hq(tx, event_key)) == 1)
        return KIOSKD_EGONE;
    if (rc == 0)
        rc = j->crypto->hash(j->crypto->arg, j->phone, strlen(j->phone), phone_hash);
    struct hqdb_stmt st;
    if (rc)
        return rc;
    /* the next id and its record are taken under the changes' lock, so that
     * two HQ processes never give one id twice */
    if ((rc = hqdb_lock_changes(tx)) != 0)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_SIGNUP_NEXT_ID) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->kid);
    rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        id = hqdb_column_int64(&st, 0);
    hqdb_reset(&st);
    if (rc != HQDB_ROW)
        return rc < 0 ? rc : KIOSKD_EIO;
    if ((rc = signup_record(tx, j->kid, id, HQ_DEVICE, j->event_id, event_key, phone_hash,
                            j->merged_into)) != 0 ||
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
    /* its ticket names the event by 0 until the branch links it (served then) */
    if (!data)
        return KIOSKD_ENOMEM;
    if (j->event_id == 0 && json_object_set_new(data, "ticket_event_id", json_integer(0)) != 0) {
        json_decref(data);
        return KIOSKD_ENOMEM;
    }
    if ((rc = j->crypto->seal(j->crypto->arg, "signup", data)) == 0 &&
        (rc = json_object_set_new(data, "device", json_string(HQ_DEVICE)) == 0
                  ? 0
                  : KIOSKD_ENOMEM) == 0) {
        snprintf(key, sizeof key, "%s:%lld", j->kid, (long long)id);
        rc = change_put_json(tx, "signup", key, data,
                             &(struct change_scope){.event_key = event_key});
    }
    json_decref(data);
    return rc;
}

static int hq_signup_run(struct store_tx *tx, struct store_job *job)
{
    return store_hq_signup_tx(tx, (struct store_hq_signup *)job);
}

void store_hq_signup_init(struct store_hq_signup *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = hq_signup_run;
}
