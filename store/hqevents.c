/* HQ's table of events (store/hqevents.h), on SQLite and PostgreSQL through
 * store/hqdb.h; the table is store/hq_migrations/0006_events.sql. */
#include "store/hqevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/timefmt.h"
#include "store/hqdb.h"
#include "store/store_int.h"

#define EVENTS_SOURCE "*events" /* hq_bot_cursors: the rows of before 0006 are written */
#define BACKFILL_BATCH 256      /* imports read at a time */

static const char SQL_PUT[] =
    "INSERT INTO hq_events(key, device, event_id, title, venue, starts_at, ends_at, cancelled) "
    "VALUES (?1, ?2, coalesce((SELECT de.event_id FROM hq_device_events de "
    "WHERE de.device = ?2 AND de.key = ?1), ?3), ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (key) DO UPDATE SET title = excluded.title, venue = excluded.venue, "
    "starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
    "cancelled = CASE WHEN excluded.cancelled = 1 THEN 1 ELSE hq_events.cancelled END";
/* the first word stands: what the backfill reads is never newer than a row */
static const char SQL_PUT_ONCE[] =
    "INSERT INTO hq_events(key, device, event_id, title, venue, starts_at, ends_at, cancelled) "
    "VALUES (?1, ?2, coalesce((SELECT de.event_id FROM hq_device_events de "
    "WHERE de.device = ?2 AND de.key = ?1), ?3), ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";
static const char SQL_LINKED[] =
    "UPDATE hq_events SET event_id = ?2 WHERE key = ?3 AND device = ?1 AND event_id = 0";
static const char SQL_CANCELLED[] =
    "UPDATE hq_events SET cancelled = 1 WHERE device = ?1 AND event_id = ?2 AND cancelled = 0";
static const char SQL_CURRENT[] =
    "SELECT key, device, event_id, title, venue, starts_at, ends_at FROM hq_events "
    "WHERE cancelled = 0 AND ends_at > ?1 ORDER BY starts_at, key LIMIT ?2";
static const char SQL_ONE[] =
    "SELECT key, device, event_id, title, venue, starts_at, ends_at FROM hq_events "
    "WHERE key = ?1 AND cancelled = 0 AND ends_at > ?2";
static const char SQL_DONE_GET[] = "SELECT through FROM hq_bot_cursors WHERE source = ?1";
static const char SQL_DONE_PUT[] =
    "INSERT INTO hq_bot_cursors(source, through) VALUES (?1, 1) ON CONFLICT DO NOTHING";
static const char SQL_DEVICES[] = "SELECT device FROM hq_devices ORDER BY device";
/* the kinds as literals: the partial indexes of migration 0005 serve them */
static const char SQL_CREATED_OF[] =
    "SELECT data FROM hq_entries WHERE device = ?1 AND kind = 'event_created'";
static const char SQL_CANCELLED_OF[] =
    "SELECT data FROM hq_entries WHERE device = ?1 AND kind = 'event_cancelled'";
static const char SQL_IMPORTS_AFTER[] =
    "SELECT seq, key, data FROM hq_changes WHERE kind = 'event' AND seq > ?1 ORDER BY seq "
    "LIMIT ?2";

/* A row to write, and whether it is cancelled. */
struct row {
    struct hq_event ev;
    bool cancelled;
};

/* A positive event id of data into *id. */
static bool event_id_of(json_t *data, int64_t *id)
{
    json_t *v = json_object_get(data, "event_id");
    *id = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
    return *id > 0;
}

/* Title and venue (strings that fit) of data into e. */
static bool texts_of(json_t *data, struct hq_event *e)
{
    json_t *t = json_object_get(data, "title"), *v = json_object_get(data, "venue");
    if (!json_is_string(t) || !json_is_string(v) || json_string_length(t) >= sizeof e->title ||
        json_string_length(v) >= sizeof e->venue)
        return false;
    snprintf(e->title, sizeof e->title, "%s", json_string_value(t));
    snprintf(e->venue, sizeof e->venue, "%s", json_string_value(v));
    return true;
}

/* The row of device's event_created entry (data); false when malformed. */
static bool row_of_created(const char *device, json_t *data, struct row *r)
{
    memset(r, 0, sizeof *r);
    json_t *s = json_object_get(data, "starts_at"), *t = json_object_get(data, "ends_at");
    if (!event_id_of(data, &r->ev.event_id) || !texts_of(data, &r->ev) || !json_is_integer(s) ||
        !json_is_integer(t))
        return false;
    snprintf(r->ev.key, sizeof r->ev.key, "%s/%lld", device, (long long)r->ev.event_id);
    snprintf(r->ev.device, sizeof r->ev.device, "%s", device);
    r->ev.starts_at = (int64_t)json_integer_value(s);
    r->ev.ends_at = (int64_t)json_integer_value(t);
    return true;
}

/* The row of an event imported under key (data); false when malformed. */
static bool row_of_import(const char *key, json_t *data, struct row *r)
{
    memset(r, 0, sizeof *r);
    const char *branch = json_string_value(json_object_get(data, "branch"));
    const char *s = json_string_value(json_object_get(data, "starts_at"));
    const char *t = json_string_value(json_object_get(data, "ends_at"));
    const char *status = json_string_value(json_object_get(data, "status"));
    if (!branch || strlen(branch) > HQ_DEVICE_MAX || strlen(key) > HQ_EVENT_KEY_MAX || !s || !t ||
        !texts_of(data, &r->ev) || time_parse_rfc3339(s, &r->ev.starts_at) != 0 ||
        time_parse_rfc3339(t, &r->ev.ends_at) != 0)
        return false;
    snprintf(r->ev.key, sizeof r->ev.key, "%s", key);
    snprintf(r->ev.device, sizeof r->ev.device, "%s", branch);
    r->cancelled = status && strcmp(status, "cancelled") == 0;
    return true;
}

static int row_put(struct store_tx *tx, const struct row *r, const char *sql)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, sql) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, r->ev.key);
    hqdb_bind_text(&st, 2, r->ev.device);
    hqdb_bind_int64(&st, 3, r->ev.event_id);
    hqdb_bind_text(&st, 4, r->ev.title);
    hqdb_bind_text(&st, 5, r->ev.venue);
    hqdb_bind_int64(&st, 6, r->ev.starts_at);
    hqdb_bind_int64(&st, 7, r->ev.ends_at);
    hqdb_bind_int64(&st, 8, r->cancelled);
    return hqdb_exec(&st, NULL);
}

static int cancel(struct store_tx *tx, const char *device, int64_t event_id)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_CANCELLED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, device);
    hqdb_bind_int64(&st, 2, event_id);
    return hqdb_exec(&st, NULL);
}

int hqevents_entry(struct store_tx *tx, const char *device, const char *kind, json_t *data)
{
    struct row r;
    int64_t id;
    if (strcmp(kind, "event_created") == 0)
        return row_of_created(device, data, &r) ? row_put(tx, &r, SQL_PUT_ONCE) : 0;
    if (strcmp(kind, "event_cancelled") == 0)
        return event_id_of(data, &id) ? cancel(tx, device, id) : 0;
    const char *key = json_string_value(json_object_get(data, "key"));
    if (strcmp(kind, "event_linked") != 0 || !event_id_of(data, &id) || !key)
        return 0;
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_LINKED) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, device);
    hqdb_bind_int64(&st, 2, id);
    hqdb_bind_text(&st, 3, key);
    return hqdb_exec(&st, NULL);
}

int hqevents_imported(struct store_tx *tx, const char *key, json_t *data)
{
    struct row r;
    return row_of_import(key, data, &r) ? row_put(tx, &r, SQL_PUT) : 0;
}

/* --- the rows of what was stored before migration 0006 (E2) --- */

struct rows {
    struct row *v;
    size_t n, cap;
};

static struct row *rows_next(struct rows *rs)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 64;
        struct row *more = realloc(rs->v, cap * sizeof *more);
        if (!more)
            return NULL;
        rs->v = more;
        rs->cap = cap;
    }
    return &rs->v[rs->n];
}

/* Reads device's entries of sql (event_created or event_cancelled) into rs:
 * the rows of the created ones, the ids (ev.event_id) of the cancelled. */
static int entries_read(struct store_tx *tx, const char *sql, const char *device, struct rows *rs)
{
    struct hqdb_stmt st;
    int rc;
    rs->n = 0;
    if (hqdb_prepare(tx, &st, sql) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, device);
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        struct row *r = rows_next(rs);
        if (!r) {
            rc = KIOSKD_ENOMEM;
            break;
        }
        json_t *d = hqdb_column_json(&st, 0);
        bool ok =
            sql == SQL_CREATED_OF ? row_of_created(device, d, r) : event_id_of(d, &r->ev.event_id);
        json_decref(d);
        rs->n += ok;
    }
    hqdb_reset(&st);
    return rc == HQDB_DONE ? 0 : rc;
}

/* The rows of the events imported at HQ, in batches. */
static int imports_backfill(struct store_tx *tx, struct rows *rs)
{
    int64_t after = 0, read;
    int rc;
    do {
        struct hqdb_stmt st;
        rs->n = 0;
        read = 0;
        if (hqdb_prepare(tx, &st, SQL_IMPORTS_AFTER) != 0)
            return KIOSKD_EIO;
        hqdb_bind_int64(&st, 1, after);
        hqdb_bind_int64(&st, 2, BACKFILL_BATCH);
        while ((rc = hqdb_step(&st)) == HQDB_ROW) {
            struct row *r = rows_next(rs);
            if (!r) {
                rc = KIOSKD_ENOMEM;
                break;
            }
            after = hqdb_column_int64(&st, 0);
            read++;
            json_t *d = hqdb_column_json(&st, 2);
            rs->n += row_of_import(hqdb_column_text(&st, 1), d, r);
            json_decref(d);
        }
        hqdb_reset(&st);
        if (rc != HQDB_DONE)
            return rc;
        for (size_t i = 0; i < rs->n; i++)
            if ((rc = row_put(tx, &rs->v[i], SQL_PUT_ONCE)) != 0)
                return rc;
    } while (read == BACKFILL_BATCH);
    return 0;
}

/* The rows of every device's events, then its cancellations. */
static int devices_backfill(struct store_tx *tx, struct rows *rs)
{
    char(*devices)[HQ_DEVICE_MAX + 1] = NULL;
    size_t n = 0, cap = 0;
    struct hqdb_stmt st;
    int rc;
    if (hqdb_prepare(tx, &st, SQL_DEVICES) != 0)
        return KIOSKD_EIO;
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        if (n == cap) {
            void *more = realloc(devices, (cap = cap ? 2 * cap : 16) * sizeof *devices);
            if (!more) {
                rc = KIOSKD_ENOMEM;
                break;
            }
            devices = more;
        }
        snprintf(devices[n++], sizeof devices[0], "%s", hqdb_column_text(&st, 0));
    }
    hqdb_reset(&st);
    rc = rc == HQDB_DONE ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = entries_read(tx, SQL_CREATED_OF, devices[i], rs)) != 0)
            break;
        for (size_t k = 0; rc == 0 && k < rs->n; k++)
            rc = row_put(tx, &rs->v[k], SQL_PUT_ONCE);
        if (rc == 0)
            rc = entries_read(tx, SQL_CANCELLED_OF, devices[i], rs);
        for (size_t k = 0; rc == 0 && k < rs->n; k++)
            rc = cancel(tx, devices[i], rs->v[k].ev.event_id);
    }
    free(devices);
    return rc;
}

/* Writes the rows of before 0006 unless that was done (E2). */
static int backfill(struct store_tx *tx)
{
    struct hqdb_stmt st;
    struct rows rs = {0};
    if (hqdb_prepare(tx, &st, SQL_DONE_GET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, EVENTS_SOURCE);
    int rc = hqdb_step(&st);
    hqdb_reset(&st);
    if (rc != HQDB_DONE)
        return rc == HQDB_ROW ? 0 : rc;
    if ((rc = imports_backfill(tx, &rs)) == 0)
        rc = devices_backfill(tx, &rs);
    free(rs.v);
    if (rc)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_DONE_PUT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, EVENTS_SOURCE);
    return hqdb_exec(&st, NULL);
}

/* --- reading --- */

static void event_read(struct hqdb_stmt *st, struct hq_event *e)
{
    snprintf(e->key, sizeof e->key, "%s", hqdb_column_text(st, 0));
    snprintf(e->device, sizeof e->device, "%s", hqdb_column_text(st, 1));
    e->event_id = hqdb_column_int64(st, 2);
    snprintf(e->title, sizeof e->title, "%s", hqdb_column_text(st, 3));
    snprintf(e->venue, sizeof e->venue, "%s", hqdb_column_text(st, 4));
    e->starts_at = hqdb_column_int64(st, 5);
    e->ends_at = hqdb_column_int64(st, 6);
}

int hqevents_current(struct store_tx *tx, int64_t now, struct hq_event *out, size_t max, size_t *n)
{
    struct hqdb_stmt st;
    int rc = backfill(tx);
    *n = 0;
    if (rc)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_CURRENT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_int64(&st, 1, now);
    hqdb_bind_int64(&st, 2, (int64_t)max);
    while ((rc = hqdb_step(&st)) == HQDB_ROW && *n < max)
        event_read(&st, &out[(*n)++]);
    hqdb_reset(&st);
    return rc == HQDB_DONE || rc == HQDB_ROW ? 0 : rc;
}

int hqevents_get(struct store_tx *tx, const char *key, int64_t now, struct hq_event *out,
                 bool *found)
{
    struct hqdb_stmt st;
    int rc = backfill(tx);
    *found = false;
    memset(out, 0, sizeof *out);
    if (rc)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_ONE) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, key);
    hqdb_bind_int64(&st, 2, now);
    if ((rc = hqdb_step(&st)) == HQDB_ROW) {
        event_read(&st, out);
        *found = true;
    }
    hqdb_reset(&st);
    return rc == HQDB_DONE || rc == HQDB_ROW ? 0 : rc;
}
