/* The branch's side of HQ sync in the store (store/sync.h). */
#include "store/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_SYNC_STATE[] =
    "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_acked_seq'), "
    "(SELECT coalesce(max(seq), 0) FROM outbox), pull_cursor FROM sync_state WHERE id = 1";
static const char SQL_PENDING[] = "SELECT count(*) FROM outbox WHERE seq > ?1";
static const char SQL_OUTBOX_AFTER[] =
    "SELECT seq, id, kind, at, data FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2";
static const char SQL_ACKED_GET[] =
    "SELECT CAST(value AS INTEGER), (SELECT coalesce(max(seq), 0) FROM outbox) FROM meta "
    "WHERE key = 'outbox_acked_seq'";
static const char SQL_ACKED_SET[] = "UPDATE meta SET value = ?1 WHERE key = 'outbox_acked_seq'";
static const char SQL_PUSHED[] =
    "UPDATE sync_state SET last_push_at = ?1, pushed = pushed + ?2 WHERE id = 1";
static const char SQL_EVENT_OF_KEY[] =
    "SELECT id, capacity, confirmed, status = 'open' AND ends_at > ?2 FROM events "
    "WHERE hq_key = ?1";
static const char SQL_EVENT_PULLED_INSERT[] =
    "INSERT INTO events(title, kind, starts_at, ends_at, venue, capacity, created_at, hq_key, "
    "branch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_EVENT_PULLED_UPDATE[] =
    "UPDATE events SET title = ?2, kind = ?3, starts_at = ?4, ends_at = ?5, venue = ?6, "
    "capacity = ?7, branch = ?8 WHERE id = ?1";
static const char SQL_TEMPLATE_PUT[] =
    "INSERT INTO templates_pulled(name, text, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(name) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at";
static const char SQL_TEMPLATES[] = "SELECT name, text FROM templates_pulled ORDER BY name";
static const char SQL_PENDING_PUT[] =
    "INSERT INTO points_hq_pending(hq_id, member_no, points, note, at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT(hq_id) DO NOTHING";
static const char SQL_PENDING_KNOWN[] =
    "SELECT p.hq_id, m.id, p.points, p.note, p.at FROM points_hq_pending p "
    "JOIN members m ON m.member_no = p.member_no ORDER BY p.hq_id";
static const char SQL_PENDING_DEL[] = "DELETE FROM points_hq_pending WHERE hq_id = ?1";
static const char SQL_PULLED[] =
    "UPDATE sync_state SET last_pull_at = ?1, pulled = pulled + ?2, pull_cursor = ?3 WHERE id = 1";

int store_sync_state(struct store *s, struct store_sync_state *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_SYNC_STATE);
    if (!st)
        return KIOSKD_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->acked_seq = sqlite3_column_int64(st, 0);
        out->last_seq = sqlite3_column_int64(st, 1);
        store_col_text(out->pull_cursor, sizeof out->pull_cursor, st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    if (!(st = conn_stmt(&s->rd, SQL_PENDING)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, out->acked_seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out->pending = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

int store_sync_outbox_read(struct store *s, int64_t after, int limit, json_t *entries,
                           int64_t *last)
{
    *last = after;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_OUTBOX_AFTER);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_error_t err;
        json_t *data = json_loadb((const char *)sqlite3_column_text(st, 4),
                                  (size_t)sqlite3_column_bytes(st, 4), 0, &err);
        json_t *e = data ? json_pack("{s:s, s:I, s:s, s:s, s:o}", "id",
                                     (const char *)sqlite3_column_text(st, 1), "seq",
                                     (json_int_t)sqlite3_column_int64(st, 0), "kind",
                                     (const char *)sqlite3_column_text(st, 2), "at",
                                     (const char *)sqlite3_column_text(st, 3), "data", data)
                         : NULL;
        if (!e || json_array_append_new(entries, e) != 0) {
            sqlite3_reset(st);
            return KIOSKD_ENOMEM;
        }
        *last = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int ack_run(struct store_tx *tx, struct store_job *job)
{
    struct store_sync_ack *j = (struct store_sync_ack *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ACKED_GET);
    int64_t cur = 0, last = 0;
    if (!st)
        return KIOSKD_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cur = sqlite3_column_int64(st, 0);
        last = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    int64_t to = j->acked < j->sent ? j->acked : j->sent;
    if (to > last)
        to = last;
    j->cursor = cur;
    j->advanced = 0;
    if (to <= cur)
        return 0;
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)to);
    if (!(st = conn_stmt(tx->c, SQL_ACKED_SET)))
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    if (!(st = conn_stmt(tx->c, SQL_PUSHED)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx));
    sqlite3_bind_int64(st, 2, to - cur);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->advanced = to - cur;
    j->cursor = to;
    tx->outbox_acked += (int)j->advanced;
    return 0;
}

void store_sync_ack_init(struct store_sync_ack *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = ack_run;
}

/* Adds or updates one event imported at HQ (struct store_pulled_event). */
static int event_apply(struct store_tx *tx, struct store_pulled_event *p, int64_t now, bool *added)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_EVENT_OF_KEY);
    int64_t capacity = p->ev.capacity, old_capacity = 0;
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, p->hq_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    bool takes_signups = false;
    p->id = 0;
    p->capacity_kept = false;
    if (rc == SQLITE_ROW) {
        p->id = sqlite3_column_int64(st, 0);
        old_capacity = sqlite3_column_int64(st, 1);
        p->confirmed = sqlite3_column_int64(st, 2);
        takes_signups = sqlite3_column_int(st, 3) != 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    *added = p->id == 0;
    if (!*added && capacity < p->confirmed) {
        capacity = old_capacity; /* never below the sign-ups it has */
        p->capacity_kept = true;
        p->kept_capacity = old_capacity;
    }
    if (!(st = conn_stmt(tx->c, *added ? SQL_EVENT_PULLED_INSERT : SQL_EVENT_PULLED_UPDATE)))
        return KIOSKD_EIO;
    int o = *added ? 0 : 1;
    if (!*added)
        sqlite3_bind_int64(st, 1, p->id);
    sqlite3_bind_text(st, o + 1, p->ev.title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, o + 2, p->ev.kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, o + 3, p->ev.starts_at);
    sqlite3_bind_int64(st, o + 4, p->ev.ends_at);
    sqlite3_bind_text(st, o + 5, p->ev.venue, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, o + 6, capacity);
    if (*added) {
        sqlite3_bind_int64(st, 7, now);
        sqlite3_bind_text(st, 8, p->hq_key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, p->branch, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_text(st, 8, p->branch, -1, SQLITE_STATIC);
    }
    if ((rc = store_step_done(st)) != 0)
        return rc;
    if (*added) {
        p->id = sqlite3_last_insert_rowid(tx->c->db);
        if (p->branch[0])
            return 0;
        /* HQ learns which of this branch's event ids is its event, so that the
         * sign-ups and check-ins pushed for it find their way */
        return store_outbox_append(
            tx, "event_linked",
            json_pack("{s:I, s:s}", "event_id", (json_int_t)p->id, "key", p->hq_key));
    }
    /* more places: the waitlist gets them, in its order */
    for (int64_t n = p->confirmed; takes_signups && n < capacity; n++) {
        int64_t promoted = 0;
        if ((rc = signup_promote(tx, p->id, &promoted)) != 0)
            return rc;
        if (!promoted)
            break;
        p->promoted++;
    }
    return 0;
}

/* Merges one points line earned at HQ (struct store_pulled_balance); keeps it
 * in points_hq_pending while the branch lacks its member. */
static int balance_apply(struct store_tx *tx, struct store_sync_page *j,
                         const struct store_pulled_balance *b)
{
    struct member_row m;
    bool added = false;
    int rc = member_row_by_no(tx, b->member_no, &m);
    if (rc == KIOSKD_ENOTFOUND) {
        sqlite3_stmt *st = conn_stmt(tx->c, SQL_PENDING_PUT);
        if (!st)
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, b->hq_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, b->member_no, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, b->points);
        sqlite3_bind_text(st, 4, b->note, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, b->at);
        if ((rc = store_step_done(st)) == 0)
            j->balances_pending++;
        return rc;
    }
    if (rc == 0)
        rc =
            ledger_hq_merge(tx, m.id, b->hq_id, b->points, b->note, b->at, j->expiry_years, &added);
    if (rc == 0)
        *(added ? &j->balances_added : &j->balances_known) += 1;
    return rc;
}

/* A points line kept for a member the branch lacked. */
struct pending_line {
    char hq_id[SYNC_LINE_ID_MAX + 1];
    int64_t member_id, points, at;
    char note[SYNC_NOTE_MAX * 4 + 1];
};

/* Merges the kept lines whose members the branch has now (after a page's
 * members), and forgets them. */
static int pending_merge(struct store_tx *tx, struct store_sync_page *j)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_PENDING_KNOWN);
    struct pending_line *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (!st)
        return KIOSKD_EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            struct pending_line *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = nv;
        }
        store_col_text(v[n].hq_id, sizeof v[n].hq_id, st, 0);
        v[n].member_id = sqlite3_column_int64(st, 1);
        v[n].points = sqlite3_column_int64(st, 2);
        store_col_text(v[n].note, sizeof v[n].note, st, 3);
        v[n].at = sqlite3_column_int64(st, 4);
        n++;
    }
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE ? 0 : store_rc(rc);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool added = false;
        rc = ledger_hq_merge(tx, v[i].member_id, v[i].hq_id, v[i].points, v[i].note, v[i].at,
                             j->expiry_years, &added);
        if (rc == 0 && !(st = conn_stmt(tx->c, SQL_PENDING_DEL)))
            rc = KIOSKD_EIO;
        if (rc == 0) {
            sqlite3_bind_text(st, 1, v[i].hq_id, -1, SQLITE_STATIC);
            rc = store_step_done(st);
        }
        if (rc == 0 && added)
            j->balances_added++;
    }
    free(v);
    return rc;
}

static int page_run(struct store_tx *tx, struct store_job *job)
{
    struct store_sync_page *j = (struct store_sync_page *)job;
    int64_t now = store_tx_now(tx) / 1000000;
    int rc;
    j->members_added = j->members_updated = j->products_added = j->products_updated = 0;
    j->events_added = j->events_updated = 0;
    j->balances_added = j->balances_known = j->balances_pending = 0;
    for (size_t i = 0; i < j->nmembers; i++) {
        bool added = false;
        if ((rc = member_write(tx, &j->members[i], now, &added)) != 0)
            return rc;
        *(added ? &j->members_added : &j->members_updated) += 1;
    }
    for (size_t i = 0; i < j->nproducts; i++) {
        bool added = false;
        if ((rc = product_write(tx, &j->products[i], now, &added)) != 0)
            return rc;
        *(added ? &j->products_added : &j->products_updated) += 1;
    }
    if (j->nmembers && (rc = pending_merge(tx, j)) != 0)
        return rc;
    for (size_t i = 0; i < j->nevents; i++) {
        bool added = false;
        if ((rc = event_apply(tx, &j->events[i], now, &added)) != 0)
            return rc;
        *(added ? &j->events_added : &j->events_updated) += 1;
    }
    for (size_t i = 0; i < j->nbalances; i++)
        if ((rc = balance_apply(tx, j, &j->balances[i])) != 0)
            return rc;
    for (size_t i = 0; i < j->ntemplates; i++) {
        sqlite3_stmt *tt = conn_stmt(tx->c, SQL_TEMPLATE_PUT);
        if (!tt)
            return KIOSKD_EIO;
        sqlite3_bind_text(tt, 1, j->templates[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(tt, 2, j->templates[i].text, (int)j->templates[i].len, SQLITE_STATIC);
        sqlite3_bind_int64(tt, 3, store_tx_now(tx));
        if ((rc = store_step_done(tt)) != 0)
            return rc;
    }
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_PULLED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx));
    sqlite3_bind_int64(st, 2, store_sync_page_changes(j));
    sqlite3_bind_text(st, 3, j->cursor, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    char subject[160];
    snprintf(subject, sizeof subject,
             "members:%lld+%lld products:%lld+%lld events:%lld+%lld balances:%lld+%lld "
             "templates:%lld",
             (long long)j->members_added, (long long)j->members_updated,
             (long long)j->products_added, (long long)j->products_updated,
             (long long)j->events_added, (long long)j->events_updated, (long long)j->balances_added,
             (long long)j->balances_known, (long long)j->ntemplates);
    return store_audit(tx, NULL, "hq", "hq_pull", subject);
}

int64_t store_sync_page_changes(const struct store_sync_page *j)
{
    return (int64_t)(j->nmembers + j->nproducts + j->nevents + j->nbalances + j->ntemplates) +
           j->refused + j->skipped;
}

int store_templates_pulled(struct store *s,
                           void (*each)(void *arg, const char *name, const char *text, size_t len),
                           void *arg)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_TEMPLATES);
    if (!st)
        return KIOSKD_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(arg, (const char *)sqlite3_column_text(st, 0),
             (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

void store_sync_page_init(struct store_sync_page *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = page_run;
}
