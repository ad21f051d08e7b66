/* Events: SQL for reading, creating and cancelling them. */
#include "store/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_EVENT_GET[] =
    "SELECT id, title, kind, starts_at, ends_at, venue, capacity, status, confirmed, waitlisted, "
    "checked_in, walk_ins, description, branch FROM events WHERE id = ?";
static const char SQL_EVENTS_UPCOMING[] =
    "SELECT id, title, kind, starts_at, ends_at, venue, capacity, status, confirmed, waitlisted, "
    "checked_in, walk_ins, description, branch FROM events WHERE ends_at > ? AND status = 'open' "
    "ORDER BY starts_at, id LIMIT ?";
static const char SQL_EVENTS_SINCE[] =
    "SELECT id, title, kind, starts_at, ends_at, venue, capacity, status, confirmed, waitlisted, "
    "checked_in, walk_ins, description, branch FROM events WHERE starts_at >= ? ORDER BY "
    "starts_at, id "
    "LIMIT ?";
static const char SQL_EVENT_COUNTS[] =
    "UPDATE events SET confirmed = confirmed + ?, waitlisted = waitlisted + ?, "
    "checked_in = checked_in + ?, walk_ins = walk_ins + ? WHERE id = ?";

int event_counts(struct store_tx *tx, int64_t event_id, int confirmed, int waitlisted,
                 int checked_in, int walk_ins)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_EVENT_COUNTS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int(st, 1, confirmed);
    sqlite3_bind_int(st, 2, waitlisted);
    sqlite3_bind_int(st, 3, checked_in);
    sqlite3_bind_int(st, 4, walk_ins);
    sqlite3_bind_int64(st, 5, event_id);
    return store_step_done(st);
}

static const char SQL_EVENTS_COUNT[] = "SELECT count(*) FROM events";
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO events(title, kind, starts_at, ends_at, venue, capacity, created_at, description) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_EVENT_CANCEL[] =
    "UPDATE events SET status = 'cancelled' WHERE id = ? AND status = 'open'";
static const char SQL_EVENT_EXISTS[] = "SELECT 1 FROM events WHERE id = ?";

/* Copies text column col into dst[n] whole; false (dst empty) when it does
 * not fit: a stored text is never cut. */
static bool copy_text(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (len >= n || (t && memchr(t, '\0', len))) {
        dst[0] = '\0';
        return false;
    }
    if (len)
        memcpy(dst, t, len);
    dst[len] = '\0';
    return true;
}

static void row_to_event(sqlite3_stmt *st, struct store_event *e)
{
    bool ok = true;
    e->id = sqlite3_column_int64(st, 0);
    ok &= copy_text(e->title, sizeof e->title, st, 1);
    ok &= copy_text(e->kind, sizeof e->kind, st, 2);
    e->starts_at = sqlite3_column_int64(st, 3);
    e->ends_at = sqlite3_column_int64(st, 4);
    ok &= copy_text(e->venue, sizeof e->venue, st, 5);
    e->capacity = sqlite3_column_int64(st, 6);
    ok &= copy_text(e->status, sizeof e->status, st, 7);
    e->confirmed = sqlite3_column_int64(st, 8);
    e->waitlisted = sqlite3_column_int64(st, 9);
    e->checked_in = sqlite3_column_int64(st, 10);
    e->walk_ins = sqlite3_column_int64(st, 11);
    ok &= copy_text(e->description, sizeof e->description, st, 12);
    ok &= copy_text(e->branch, sizeof e->branch, st, 13);
    e->damaged = !ok;
}

int store_event_read(struct conn *c, int64_t id, struct store_event *out)
{
    sqlite3_stmt *st = conn_stmt(c, SQL_EVENT_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_to_event(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

int store_event_get(struct store *s, int64_t id, struct store_event *out)
{
    return store_event_read(&s->rd, id, out);
}

static int events_list(struct store *s, const char *sql, int64_t t, size_t max,
                       struct store_event **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, sql);
    if (!st)
        return KIOSKD_EIO;
    struct store_event *evs = calloc(max ? max : 1, sizeof *evs);
    if (!evs)
        return KIOSKD_ENOMEM;
    sqlite3_bind_int64(st, 1, t);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    int rc;
    size_t i = 0;
    while (i < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        row_to_event(st, &evs[i++]);
    sqlite3_reset(st);
    if (i < max && rc != SQLITE_DONE) {
        free(evs);
        return store_rc(rc);
    }
    *out = evs;
    *n = i;
    return 0;
}

int store_events_upcoming(struct store *s, int64_t now, size_t max, struct store_event **out,
                          size_t *n)
{
    return events_list(s, SQL_EVENTS_UPCOMING, now, max, out, n);
}

int store_events_since(struct store *s, int64_t since, size_t max, struct store_event **out,
                       size_t *n)
{
    return events_list(s, SQL_EVENTS_SINCE, since, max, out, n);
}

int64_t store_events_count(struct store *s)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_EVENTS_COUNT);
    int64_t n = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return n;
}

static int events_create_run(struct store_tx *tx, struct store_job *job)
{
    struct store_events_create *j = (struct store_events_create *)job;
    int64_t now = store_tx_now(tx) / 1000000;
    for (size_t i = 0; i < j->n; i++) {
        struct store_event *e = &j->evs[i];
        sqlite3_stmt *st = conn_stmt(tx->c, SQL_EVENT_INSERT);
        if (!st)
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, e->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, e->starts_at);
        sqlite3_bind_int64(st, 4, e->ends_at);
        sqlite3_bind_text(st, 5, e->venue, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, e->capacity);
        sqlite3_bind_int64(st, 7, now);
        sqlite3_bind_text(st, 8, e->description, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_rc(rc);
        e->id = sqlite3_last_insert_rowid(tx->c->db);
        snprintf(e->status, sizeof e->status, "open");
        char subject[32];
        snprintf(subject, sizeof subject, "event:%lld", (long long)e->id);
        if ((rc = store_audit(tx, j->by.staff_id[0] ? j->by.staff_id : NULL,
                              j->by.device[0] ? j->by.device : NULL, "event_create", subject)) != 0)
            return rc;
        /* what HQ needs to show the event; title, venue and description are free text */
        json_t *data = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "event_id",
                                 (json_int_t)e->id, "title", e->title, "kind", e->kind, "venue",
                                 e->venue, "starts_at", (json_int_t)e->starts_at, "ends_at",
                                 (json_int_t)e->ends_at, "capacity", (json_int_t)e->capacity);
        if (data && e->description[0] &&
            json_object_set_new(data, "description", json_string(e->description)) != 0) {
            json_decref(data);
            data = NULL;
        }
        if ((rc = store_outbox_append(tx, "event_created", data)) != 0)
            return rc;
    }
    return 0;
}

void store_events_create_init(struct store_events_create *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = events_create_run;
}

static int event_cancel_run(struct store_tx *tx, struct store_job *job)
{
    struct store_event_cancel *j = (struct store_event_cancel *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_EVENT_EXISTS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->event_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_refuse(job, WHY_EVENT_NOT_FOUND);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    st = conn_stmt(tx->c, SQL_EVENT_CANCEL);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->event_id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    j->already = sqlite3_changes(tx->c->db) == 0;
    if (j->already)
        return 0;
    char subject[32];
    snprintf(subject, sizeof subject, "event:%lld", (long long)j->event_id);
    if ((rc = store_audit(tx, j->by.staff_id, j->by.device, "event_cancel", subject)) != 0)
        return rc;
    return store_outbox_append(tx, "event_cancelled",
                               json_pack("{s:I}", "event_id", (json_int_t)j->event_id));
}

void store_event_cancel_init(struct store_event_cancel *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = event_cancel_run;
}
