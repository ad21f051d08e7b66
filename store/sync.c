/* The branch's side of HQ sync in the store (store/sync.h). */
#include "store/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/events.h"
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
static const char SQL_KEY_ADD[] =
    "INSERT INTO ticket_keys(kid, public_pem, source, added_at) VALUES (?1, ?2, 'hq', ?3) "
    "ON CONFLICT DO NOTHING";
static const char SQL_ORIGIN_GET[] =
    "SELECT signup_id FROM signup_origins WHERE kid = ?1 AND origin_id = ?2";
/* a sign-up taken again elsewhere: its earlier ticket is refused as cancelled */
static const char SQL_ORIGIN_REVOKE[] =
    "INSERT INTO ticket_revocations(kid, signup_id, issued_at, added_at) "
    "SELECT kid, origin_id, ?2, ?3 FROM signup_origins WHERE signup_id = ?1 "
    "ON CONFLICT (kid, signup_id) DO UPDATE SET issued_at = max(issued_at, excluded.issued_at)";
static const char SQL_ORIGIN_DROP[] = "DELETE FROM signup_origins WHERE signup_id = ?1";
static const char SQL_ORIGIN_ADD[] =
    "INSERT INTO signup_origins(signup_id, kid, origin_id, device, ticket_event_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_ORIGIN_TICKET_EVENT[] =
    "SELECT s.event_id FROM signup_origins o JOIN signups s ON s.id = o.signup_id "
    "WHERE o.signup_id = ?1 AND o.ticket_event_id = ?2";
static const char SQL_ORIGIN_OF[] = "SELECT origin_id FROM signup_origins WHERE signup_id = ?1";
static const char SQL_REVOKED[] =
    "SELECT issued_at FROM ticket_revocations WHERE kid = ?1 AND signup_id = ?2";
static const char SQL_REVOKE[] =
    "INSERT INTO ticket_revocations(kid, signup_id, issued_at, added_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (kid, signup_id) DO UPDATE SET issued_at = max(issued_at, excluded.issued_at)";
static const char SQL_EVENT_OF_KEY[] =
    "SELECT id, capacity, confirmed, status = 'open' AND ends_at > ?2 FROM events "
    "WHERE hq_key = ?1";
static const char SQL_EVENT_PULLED_INSERT[] =
    "INSERT INTO events(title, kind, starts_at, ends_at, venue, capacity, created_at, hq_key, "
    "branch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_EVENT_PULLED_UPDATE[] =
    "UPDATE events SET title = ?2, kind = ?3, starts_at = ?4, ends_at = ?5, venue = ?6, "
    "capacity = ?7, branch = ?8 WHERE id = ?1";
static const char SQL_EVENT_PULLED_CANCEL[] =
    "UPDATE events SET status = 'cancelled' WHERE id = ?1 AND status = 'open'";
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
    j->advanced = j->rewound = 0;
    if (to == cur || (to < cur && !j->rewind))
        return 0;
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)to);
    if (!(st = conn_stmt(tx->c, SQL_ACKED_SET)))
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->cursor = to;
    if (to < cur) { /* S1: HQ lost what it had acknowledged */
        char subject[64];
        j->rewound = cur - to;
        tx->outbox_acked -= (int)j->rewound;
        snprintf(subject, sizeof subject, "seq:%lld<-%lld", (long long)to, (long long)cur);
        return store_audit(tx, NULL, "hq", "hq_rewind", subject);
    }
    if (!(st = conn_stmt(tx->c, SQL_PUSHED)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx));
    sqlite3_bind_int64(st, 2, to - cur);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->advanced = to - cur;
    tx->outbox_acked += (int)j->advanced;
    return 0;
}

void store_sync_ack_init(struct store_sync_ack *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = ack_run;
}

/* Steps st (bound, one integer column) into *out: 0, KIOSKD_ENOTFOUND or a store error. */
static int step_int(sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

/* The local id of the sign-up taken elsewhere as (kid, origin_id). */
static int origin_local(struct store_tx *tx, const char *kid, int64_t origin_id, int64_t *local)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ORIGIN_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    return step_int(st, local);
}

/* Whether a ticket of kid for sign-up origin_id issued at issued_at was
 * revoked elsewhere. 1, 0 or a store error. */
static int revoked(struct store_tx *tx, const char *kid, int64_t origin_id, int64_t issued_at)
{
    int64_t upto = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_REVOKED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    int rc = step_int(st, &upto);
    if (rc == KIOSKD_ENOTFOUND)
        return 0;
    return rc ? rc : issued_at <= upto;
}

int signup_of_ticket_elsewhere(struct store_tx *tx, const char *kid, int64_t origin_id,
                               int64_t issued_at, int64_t *local, int64_t *ticket_event)
{
    int rc = revoked(tx, kid, origin_id, issued_at);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return KIOSKD_EREFUSED;
    *local = 0;
    rc = origin_local(tx, kid, origin_id, local);
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? 0 : rc;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ORIGIN_TICKET_EVENT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, *local);
    sqlite3_bind_int64(st, 2, *ticket_event);
    rc = step_int(st, ticket_event); /* unchanged when the ticket names the id here */
    return rc == KIOSKD_ENOTFOUND ? 0 : rc;
}

int signup_ticket_id(struct store_tx *tx, int64_t id, int64_t *ticket_id)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ORIGIN_OF);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    *ticket_id = id;
    int rc = step_int(st, ticket_id);
    return rc == KIOSKD_ENOTFOUND ? 0 : rc;
}

/* Moves an event's counters by sign for a sign-up of status (not a walk-in). */
static int count_status(struct store_tx *tx, int64_t event_id, const char *status, int sign)
{
    bool confirmed = strcmp(status, "confirmed") == 0, waiting = strcmp(status, "waitlisted") == 0;
    if (!confirmed && !waiting)
        return 0;
    return event_counts(tx, event_id, confirmed ? sign : 0, waiting ? sign : 0, 0, 0);
}

/* Cancels the local sign-up id for a revocation up to issued_at, unless it
 * is cancelled, issued later, or checked in (the door wins). */
static int revoke_local(struct store_tx *tx, int64_t id, int64_t issued_at, bool *done)
{
    struct found f;
    struct checkin_in_force in_force;
    *done = false;
    int rc = signup_find_by_id(tx, id, &f);
    if (rc)
        return rc;
    if (strcmp(f.status, "cancelled") == 0 || f.issued_at > issued_at)
        return 0;
    if ((rc = checkin_in_force(tx, id, &in_force)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = signup_set_status(tx, id, "cancelled", store_tx_now(tx) / 1000000)) != 0)
        return rc;
    *done = true;
    return count_status(tx, f.event_id, f.status, -1);
}

static int apply_key(struct store_tx *tx, const struct store_sync_key *key, int64_t *added)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_KEY_ADD);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, key->kid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key->pem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, store_tx_now(tx) / 1000000);
    int rc = store_step_done(st);
    if (rc == 0)
        *added += sqlite3_changes(tx->c->db);
    return rc;
}

/* Sign-up id, cancelled here and taken again elsewhere, forgets where it was
 * taken before: that ticket (issued at issued_at) is refused as cancelled. */
static int origin_retire(struct store_tx *tx, int64_t id, int64_t issued_at)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_ORIGIN_REVOKE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, issued_at);
    sqlite3_bind_int64(st, 3, store_tx_now(tx) / 1000000);
    int rc = store_step_done(st);
    if (rc || !(st = conn_stmt(tx->c, SQL_ORIGIN_DROP)))
        return rc ? rc : KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    return store_step_done(st);
}

static int apply_signup(struct store_tx *tx, const struct store_sync_signup *g, bool *applied)
{
    struct store_event ev;
    struct found f;
    int64_t local = 0, id = 0, revived = 0;
    char code[7];
    *applied = false;
    int rc = store_event_read(tx->c, g->event_id, &ev);
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? 0 : rc;
    if ((rc = origin_local(tx, g->kid, g->origin_id, &local)) != 0 && rc != KIOSKD_ENOTFOUND)
        return rc;
    if (local) {
        if ((rc = signup_find_by_id(tx, local, &f)) != 0)
            return rc;
        if (g->issued_at == f.issued_at && strcmp(f.status, "waitlisted") == 0 &&
            strcmp(g->status, "confirmed") == 0) {
            *applied = true; /* promoted where it was taken */
            if ((rc = signup_set_status(tx, local, "confirmed", 0)) != 0)
                return rc;
            return event_counts(tx, f.event_id, 1, -1, 0, 0);
        }
        if (g->issued_at <= f.issued_at)
            return 0; /* applied already */
        if ((rc = count_status(tx, f.event_id, f.status, -1)) != 0)
            return rc;
    } else {
        rc = signup_find_by_phone(tx, g->event_id, g->who.phone_hash, &f);
        if (rc == 0 && strcmp(f.status, "cancelled") == 0 && f.issued_at <= g->issued_at)
            revived = f.id; /* taken again elsewhere (issued no earlier: seconds) */
        else if (rc != KIOSKD_ENOTFOUND)
            return rc; /* 0: this phone's sign-up here stands */
    }
    char member_no[33];
    if ((rc = member_no_of_phone(tx, g->who.phone_hash, member_no)) != 0)
        return rc;
    struct signup_row w = {
        .event_id = g->event_id,
        .who = &g->who,
        .member_no = member_no[0] ? member_no : NULL,
        .source = g->source,
        .status = g->status,
        .consent_version = g->consent_version,
        .kid = g->kid,
        .now = store_tx_now(tx) / 1000000,
        .issued_at = g->issued_at,
    };
    if ((rc = signup_write(tx, local ? local : revived, &w, &id, code)) != 0 ||
        (rc = count_status(tx, g->event_id, g->status, 1)) != 0)
        return rc;
    if (revived && (rc = origin_retire(tx, revived, f.issued_at)) != 0)
        return rc;
    if (!local) {
        sqlite3_stmt *st = conn_stmt(tx->c, SQL_ORIGIN_ADD);
        if (!st)
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, g->kid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, g->origin_id);
        sqlite3_bind_text(st, 4, g->device, -1, SQLITE_STATIC);
        if (g->ticket_event_id >= 0)
            sqlite3_bind_int64(st, 5, g->ticket_event_id);
        else
            sqlite3_bind_null(st, 5);
        if ((rc = store_step_done(st)) != 0)
            return rc;
    }
    *applied = true;
    if ((rc = revoked(tx, g->kid, g->origin_id, g->issued_at)) <= 0)
        return rc;
    bool done;
    return revoke_local(tx, id, g->issued_at, &done);
}

static int apply_revocation(struct store_tx *tx, const struct store_sync_revocation *r,
                            const char *own_kid)
{
    int64_t local = 0;
    bool done;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_REVOKE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, r->kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->signup_id);
    sqlite3_bind_int64(st, 3, r->issued_at);
    sqlite3_bind_int64(st, 4, store_tx_now(tx) / 1000000);
    int rc = store_step_done(st);
    if (rc == 0 && strcmp(r->kid, own_kid) == 0)
        local = r->signup_id; /* cancelled elsewhere: a sign-up taken here */
    else if (rc == 0)
        rc = origin_local(tx, r->kid, r->signup_id, &local);
    if (rc == 0 && local)
        rc = revoke_local(tx, local, r->issued_at, &done);
    return rc == KIOSKD_ENOTFOUND ? 0 : rc;
}

/* Applies the page's keys, sign-ups and revocations, in that order (a
 * sign-up's key comes before it at HQ, and a revocation after it). */
static int apply_flows(struct store_tx *tx, struct store_sync_page *j)
{
    int rc;
    j->keys_added = j->signups_applied = j->revocations_applied = 0;
    for (size_t i = 0; i < j->nkeys; i++)
        if ((rc = apply_key(tx, &j->keys[i], &j->keys_added)) != 0)
            return rc;
    for (size_t i = 0; i < j->nsignups; i++) {
        bool applied;
        if ((rc = apply_signup(tx, &j->signups[i], &applied)) != 0)
            return rc;
        j->signups_applied += applied;
    }
    for (size_t i = 0; i < j->nrevocations; i++)
        if ((rc = apply_revocation(tx, &j->revocations[i], j->own_kid)) != 0)
            return rc;
    j->revocations_applied = (int64_t)j->nrevocations;
    return 0;
}

/* Cancels a pulled event HQ cancelled, as a manager's cancel does (its
 * sign-ups stay; nothing goes to the outbox: HQ knows). Once: a cancelled
 * event stays so. */
static int event_cancel_pulled(struct store_tx *tx, struct store_pulled_event *p)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_EVENT_PULLED_CANCEL);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, p->id);
    int rc = store_step_done(st);
    if (rc || sqlite3_changes(tx->c->db) == 0)
        return rc;
    char subject[32];
    p->cancelled = true;
    snprintf(subject, sizeof subject, "event:%lld", (long long)p->id);
    return store_audit(tx, NULL, "hq", "event_cancel", subject);
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
    p->capacity_kept = p->cancelled = false;
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
    if (*added)
        p->id = sqlite3_last_insert_rowid(tx->c->db);
    if (p->cancel && (rc = event_cancel_pulled(tx, p)) != 0)
        return rc;
    if (*added) {
        if (p->branch[0])
            return 0;
        /* HQ learns which of this branch's event ids is its event, so that the
         * sign-ups and check-ins pushed for it find their way */
        return store_outbox_append(
            tx, "event_linked",
            json_pack("{s:I, s:s}", "event_id", (json_int_t)p->id, "key", p->hq_key));
    }
    /* more places: the waitlist gets them, in its order */
    for (int64_t n = p->confirmed; takes_signups && !p->cancel && n < capacity; n++) {
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
    if ((rc = apply_flows(tx, j)) != 0)
        return rc;
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
             "members:%lld+%lld products:%lld+%lld keys:%lld signups:%lld revocations:%lld "
             "events:%lld+%lld balances:%lld+%lld templates:%lld",
             (long long)j->members_added, (long long)j->members_updated,
             (long long)j->products_added, (long long)j->products_updated, (long long)j->keys_added,
             (long long)j->signups_applied, (long long)j->revocations_applied,
             (long long)j->events_added, (long long)j->events_updated, (long long)j->balances_added,
             (long long)j->balances_known, (long long)j->ntemplates);
    return store_audit(tx, NULL, "hq", "hq_pull", subject);
}

int64_t store_sync_page_changes(const struct store_sync_page *j)
{
    return (int64_t)(j->nmembers + j->nproducts + j->nkeys + j->nsignups + j->nrevocations +
                     j->nevents + j->nbalances + j->ntemplates) +
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
