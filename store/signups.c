/*
 * Sign-ups: every decision that depends on current data
 * (places left, a second scan, a stale ticket) is taken here, on the writer
 * thread inside the job's savepoint, so racing tablets get one answer each.
 *
 * Counters on events (confirmed, waitlisted, checked_in, walk_ins) change in
 * the same savepoint as the rows they count:
 *   confirmed  = sign-ups with status confirmed and source other than walkin
 *   waitlisted = sign-ups with status waitlisted
 *   checked_in = check-ins in force
 *   walk_ins   = check-ins in force of sign-ups whose source is walkin
 */
#include "store/signups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "core/status.h"
#include "core/ticket.h"
#include "store/campaigns.h"
#include "store/events.h"
#include "store/store_int.h"

/* Both read the columns of struct found, in its order (found_row). */
static const char SQL_SIGNUP_BY_PHONE[] =
    "SELECT id, event_id, status, issued_at, name_mask, source, kid, name_hash, short_code "
    "FROM signups WHERE event_id = ? AND phone_hash = ?";
static const char SQL_SIGNUP_BY_ID[] =
    "SELECT id, event_id, status, issued_at, name_mask, source, kid, name_hash, short_code "
    "FROM signups WHERE id = ?";
static const char SQL_SIGNUP_BY_CODE[] =
    "SELECT id, event_id, status, issued_at, name_mask, source, kid, name_hash, short_code "
    "FROM signups WHERE event_id = ? AND short_code = ?";
static const char SQL_SIGNUP_INSERT[] =
    "INSERT INTO signups(event_id, phone_hash, phone_enc, name_enc, name_mask, phone_last4, "
    "member_no, referrer_hash, source, status, consent_at, consent_version, issued_at, kid, "
    "created_at, name_hash, short_code) VALUES (:event, :hash, :phone, :name, :mask, :last4, "
    ":member, :referrer, :source, :status, :now, :consent, :issued, :kid, :now, :name_hash, "
    ":code)";
static const char SQL_SIGNUP_REACTIVATE[] =
    "UPDATE signups SET phone_enc = :phone, name_enc = :name, name_mask = :mask, "
    "member_no = :member, referrer_hash = :referrer, source = :source, status = :status, "
    "consent_at = :now, consent_version = :consent, issued_at = :issued, kid = :kid, "
    "cancelled_at = NULL, name_hash = :name_hash, short_code = :code, ticket_digest = NULL "
    "WHERE id = :id";
static const char SQL_TICKET_DIGEST_SET[] =
    "UPDATE signups SET ticket_digest = ?1 WHERE id = ?2 AND issued_at = ?3 AND kid = ?4 "
    "AND ticket_digest IS NULL";
static const char SQL_TICKET_DIGEST[] =
    "SELECT ticket_digest FROM signups WHERE id = ?1 AND event_id = ?2 AND issued_at = ?3 "
    "AND kid = ?4 AND ticket_digest IS NOT NULL";
static const char SQL_CODE_TAKEN[] = "SELECT 1 FROM signups WHERE event_id = ? AND short_code = ?";
static const char SQL_SIGNUP_SET_STATUS[] =
    "UPDATE signups SET status = ?, cancelled_at = ? WHERE id = ?";
static const char SQL_FIRST_WAITLISTED[] =
    "SELECT id FROM signups WHERE event_id = ? AND status = 'waitlisted' "
    "ORDER BY issued_at, id LIMIT 1";
static const char SQL_WAITLIST_BEFORE[] =
    "SELECT count(*) FROM signups WHERE event_id = ?1 AND status = 'waitlisted' "
    "AND (issued_at < ?2 OR (issued_at = ?2 AND id < ?3))";
static const char SQL_WAITLIST[] =
    "SELECT id, name_mask, phone_last4 FROM signups WHERE event_id = ?1 AND status = 'waitlisted' "
    "ORDER BY issued_at, id LIMIT ?2";
static const char SQL_WAITLIST_PHONE[] =
    "SELECT phone_enc FROM signups WHERE id = ?1 AND event_id = ?2 AND status = 'waitlisted'";
static const char SQL_ROSTER[] =
    "SELECT s.id, s.name_enc, s.name_mask, s.phone_last4, s.status, s.source, c.id, c.at_us, "
    "s.phone_enc "
    "FROM signups s LEFT JOIN checkins c ON c.signup_id = s.id AND c.undone_us IS NULL "
    "WHERE s.event_id = ?1 AND s.status <> 'cancelled' AND (?2 IS NULL OR s.phone_last4 = ?2) "
    "ORDER BY s.id LIMIT ?3";
static const char SQL_PHONE_UPCOMING[] = "SELECT count(*) FROM events e CROSS JOIN signups s "
                                         "ON s.event_id = e.id AND s.phone_hash = ?1 "
                                         "WHERE e.ends_at > ?2 AND e.status <> 'cancelled' "
                                         "AND s.status <> 'cancelled' AND s.source <> 'walkin'";
static const char SQL_TICKET_INFO[] =
    "SELECT s.event_id, s.issued_at, s.status, e.status, s.short_code, s.name_mask FROM signups s "
    "JOIN events e ON e.id = s.event_id WHERE s.id = ?";

/* Inserts the sign-up (existing == 0) or revives the cancelled one `existing`. */
/* Draws a 6-digit code no other sign-up of event_id holds into code[7]. */
static int draw_short_code(struct store_tx *tx, int64_t event_id, char code[7])
{
    for (int attempt = 0; attempt < 32; attempt++) {
        uint32_t r;
        if (rng_bytes(tx->rng, &r, sizeof r))
            return KIOSKD_ECRYPTO;
        snprintf(code, 7, "%06u", (unsigned)(r % 1000000u));
        sqlite3_stmt *st = conn_stmt(tx->c, SQL_CODE_TAKEN);
        if (!st)
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, event_id);
        sqlite3_bind_text(st, 2, code, 6, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return 0;
        if (rc != SQLITE_ROW)
            return store_rc(rc);
    }
    return KIOSKD_EBUSY; /* an event with most of a million sign-ups */
}

int signup_write(struct store_tx *tx, int64_t existing, const struct signup_row *w, int64_t *id,
                 char code[7])
{
    int rc = draw_short_code(tx, w->event_id, code);
    if (rc)
        return rc;
    sqlite3_stmt *st = conn_stmt(tx->c, existing ? SQL_SIGNUP_REACTIVATE : SQL_SIGNUP_INSERT);
    if (!st)
        return KIOSKD_EIO;
    /* the two statements share their parameter names, so one set of bindings serves both */
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":event"), w->event_id);
    sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":hash"), w->who->phone_hash,
                      STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":phone"), w->who->phone_enc,
                      (int)w->who->phone_enc_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":name"), w->who->name_enc,
                      (int)w->who->name_enc_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":name_hash"), w->who->name_hash,
                      STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":mask"), w->who->name_mask, -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":last4"), w->who->phone_last4, -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":member"), w->member_no, -1,
                      SQLITE_STATIC);
    if (w->referrer_hash)
        sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":referrer"), w->referrer_hash,
                          STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":source"), w->source, -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":status"), w->status, -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":now"), w->now);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":consent"), w->consent_version, -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":issued"), w->issued_at);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":kid"), w->kid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":id"), existing);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":code"), code, 6, SQLITE_STATIC);
    rc = store_step_done(st);
    if (rc == 0)
        *id = existing ? existing : sqlite3_last_insert_rowid(tx->c->db);
    return rc;
}

/* Sets data[key] to the base64 of blob[0..len); 0 or KIOSKD_ENOMEM. */
static int set_base64(json_t *data, const char *key, const unsigned char *blob, size_t len)
{
    char b64[STORE_ENC_MAX * 4 / 3 + 8];
    size_t n = 0;
    if (mbedtls_base64_encode((unsigned char *)b64, sizeof b64, &n, blob, len) != 0)
        return KIOSKD_ENOMEM;
    return json_object_set_new(data, key, json_stringn(b64, n)) == 0 ? 0 : KIOSKD_ENOMEM;
}

json_t *signup_outbox_data(const struct signup_row *w, int64_t id, const char *short_code)
{
    json_t *data =
        json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "signup_id", (json_int_t)id,
                  "event_id", (json_int_t)w->event_id, "status", w->status, "source", w->source,
                  "name_masked", w->who->name_mask, "phone_last4", w->who->phone_last4,
                  "consent_version", w->consent_version, "kid", w->kid, "issued_at",
                  (json_int_t)w->issued_at, "short_code", short_code);
    if (data && (set_base64(data, "name_enc", w->who->name_enc, w->who->name_enc_len) != 0 ||
                 set_base64(data, "phone_enc", w->who->phone_enc, w->who->phone_enc_len) != 0)) {
        json_decref(data);
        return NULL;
    }
    return data;
}

int signup_set_status(struct store_tx *tx, int64_t id, const char *status, int64_t cancelled_at)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_SET_STATUS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    if (cancelled_at)
        sqlite3_bind_int64(st, 2, cancelled_at);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, id);
    return store_step_done(st);
}

/* Steps st (a SQL_SIGNUP_BY_* statement, bound) and reads its row into f. */
static int found_row(sqlite3_stmt *st, struct found *f)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        f->id = sqlite3_column_int64(st, 0);
        f->event_id = sqlite3_column_int64(st, 1);
        store_col_text(f->status, sizeof f->status, st, 2);
        f->issued_at = sqlite3_column_int64(st, 3);
        store_col_text(f->name_mask, sizeof f->name_mask, st, 4);
        store_col_text(f->source, sizeof f->source, st, 5);
        store_col_text(f->kid, sizeof f->kid, st, 6);
        f->has_name_hash = sqlite3_column_bytes(st, 7) == (int)sizeof f->name_hash;
        if (f->has_name_hash)
            memcpy(f->name_hash, sqlite3_column_blob(st, 7), sizeof f->name_hash);
        store_col_text(f->short_code, sizeof f->short_code, st, 8);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

int signup_find_by_id(struct store_tx *tx, int64_t id, struct found *f)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_BY_ID);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    return found_row(st, f);
}

int signup_find_by_code(struct store_tx *tx, int64_t event_id, const char *code, struct found *f)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_BY_CODE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
    return found_row(st, f);
}

int signup_find_by_phone(struct store_tx *tx, int64_t event_id, const unsigned char *hash,
                         struct found *f)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_BY_PHONE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_blob(st, 2, hash, STORE_HASH_LEN, SQLITE_STATIC);
    return found_row(st, f);
}

int signup_digest_check(struct store_tx *tx, int64_t id, int64_t event_id, int64_t issued_at,
                        const char *kid, const unsigned char *digest)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_TICKET_DIGEST);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, event_id);
    sqlite3_bind_int64(st, 3, issued_at);
    sqlite3_bind_text(st, 4, kid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), out;
    if (rc == SQLITE_ROW) {
        const void *kept = sqlite3_column_blob(st, 0);
        out = kept && sqlite3_column_bytes(st, 0) == STORE_HASH_LEN &&
                      ticket_digest_equal(kept, digest)
                  ? 0
                  : KIOSKD_EBADSIG;
    } else {
        out = rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    }
    sqlite3_reset(st);
    return out;
}

static int ticket_digest_run(struct store_tx *tx, struct store_job *job)
{
    struct store_ticket_digest *j = (struct store_ticket_digest *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_TICKET_DIGEST_SET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, j->digest, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->signup_id);
    sqlite3_bind_int64(st, 3, j->issued_at);
    sqlite3_bind_text(st, 4, j->kid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

void store_ticket_digest_init(struct store_ticket_digest *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = ticket_digest_run;
}

enum store_why ticket_rule(const struct found *f, const char *event_status, int64_t ticket_event,
                           int64_t ticket_issued)
{
    if (!f->id || f->event_id != ticket_event)
        return WHY_UNKNOWN_TICKET;
    if (f->issued_at != ticket_issued)
        return WHY_TICKET_REPLACED;
    if (strcmp(f->status, "cancelled") == 0)
        return WHY_TICKET_CANCELLED;
    if (event_status && strcmp(event_status, "cancelled") == 0)
        return WHY_EVENT_CANCELLED;
    return WHY_NONE;
}

/* --- sign-up --- */

/* Compares two keyed hashes in constant time. */
static bool same_hash(const unsigned char *a, const unsigned char *b)
{
    unsigned char d = 0;
    for (size_t i = 0; i < STORE_HASH_LEN; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Counts the sign-ups phone_hash holds (not cancelled, not walk-ins) in events
 * not cancelled that end after now: from the events not over (events_upcoming),
 * one lookup each in signups_event_phone, so no index on the phone alone. */
static int phone_upcoming(struct store_tx *tx, const unsigned char *phone_hash, int64_t now,
                          int64_t *n)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_PHONE_UPCOMING);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, phone_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

/* The place in the waitlist of a waitlisted sign-up: 1 + the waitlisted
 * sign-ups of its event ordered before it by (issued_at, id), the order in
 * which signup_promote() gives places. */
static int waitlist_position(struct store_tx *tx, int64_t event_id, int64_t issued_at, int64_t id,
                             int64_t *position)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_WAITLIST_BEFORE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_int64(st, 2, issued_at);
    sqlite3_bind_int64(st, 3, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *position = 1 + sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

static int signup_new_run(struct store_tx *tx, struct store_job *job)
{
    struct store_signup_new *j = (struct store_signup_new *)job;
    struct store_event ev;
    int rc = store_event_read(tx->c, j->event_id, &ev);
    if (rc == KIOSKD_ENOTFOUND)
        return store_refuse(job, WHY_EVENT_NOT_FOUND);
    if (rc)
        return rc;
    if (strcmp(ev.status, "cancelled") == 0)
        return store_refuse(job, WHY_EVENT_CANCELLED);
    if (j->now >= ev.ends_at)
        return store_refuse(job, WHY_SIGNUPS_CLOSED);
    if (ev.branch[0])
        return store_refuse(job, WHY_EVENT_ELSEWHERE);

    struct found f = {0};
    rc = signup_find_by_phone(tx, j->event_id, j->who.phone_hash, &f);
    if (rc && rc != KIOSKD_ENOTFOUND)
        return rc;
    int64_t existing = f.id, old_issued = f.issued_at;
    if (existing && strcmp(f.status, "cancelled") != 0) {
        /* a phone alone must not give away a ticket (enough to cancel the place) */
        if (!f.has_name_hash || !same_hash(f.name_hash, j->who.name_hash))
            return store_refuse(job, WHY_ALREADY_SIGNED_UP);
        j->existed = true;
        j->signup_id = existing;
        j->issued_at = old_issued;
        snprintf(j->status, sizeof j->status, "%s", f.status);
        snprintf(j->kid_used, sizeof j->kid_used, "%s", f.kid);
        snprintf(j->short_code, sizeof j->short_code, "%s", f.short_code);
        if (strcmp(f.status, "waitlisted") == 0)
            return waitlist_position(tx, j->event_id, j->issued_at, j->signup_id,
                                     &j->waitlist_position);
        return 0;
    }

    if (j->phone_limit > 0) {
        int64_t held = 0;
        if ((rc = phone_upcoming(tx, j->who.phone_hash, j->now, &held)) != 0)
            return rc;
        if (held >= j->phone_limit)
            return store_refuse(job, WHY_SIGNUP_LIMIT);
    }
    bool place = ev.confirmed < ev.capacity;
    snprintf(j->status, sizeof j->status, "%s", place ? "confirmed" : "waitlisted");
    snprintf(j->kid_used, sizeof j->kid_used, "%s", j->kid);
    /* a new issue time revokes any ticket of an earlier, cancelled sign-up */
    j->issued_at = existing && old_issued >= j->now ? old_issued + 1 : j->now;
    /* a phone of a known member links the sign-up to that member */
    if (!j->member_no[0] && (rc = member_no_of_phone(tx, j->who.phone_hash, j->member_no)) != 0)
        return rc;
    struct signup_row w = {
        .event_id = j->event_id,
        .who = &j->who,
        .member_no = j->member_no[0] ? j->member_no : NULL,
        .referrer_hash = j->has_referrer ? j->referrer_hash : NULL,
        .source = j->source,
        .status = j->status,
        .consent_version = j->consent_version,
        .kid = j->kid,
        .now = j->now,
        .issued_at = j->issued_at,
    };
    if ((rc = signup_write(tx, existing, &w, &j->signup_id, j->short_code)) != 0)
        return rc;
    if ((rc = event_counts(tx, j->event_id, place, !place, 0, 0)) != 0)
        return rc;
    if (!place && (rc = waitlist_position(tx, j->event_id, j->issued_at, j->signup_id,
                                          &j->waitlist_position)) != 0)
        return rc;
    if ((rc = campaign_attribute(tx, j->signup_id, j->event_id, j->campaign, j->who.phone_hash,
                                 j->member_no)) != 0)
        return rc;
    return store_journal(tx, NULL, j->source, "signup", "signup", j->signup_id, "signup",
                         signup_outbox_data(&w, j->signup_id, j->short_code));
}

void store_signup_new_init(struct store_signup_new *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = signup_new_run;
    j->campaign[0] = '\0';
}

/* Adds to data (borrowed) what names sign-up f's ticket at HQ and at the
 * other branches: kid, ticket_signup_id (its id where it was taken) and
 * issued_at. 0 or a KIOSKD_E* code. */
static int name_ticket(struct store_tx *tx, const struct found *f, json_t *data)
{
    int64_t ticket_id;
    int rc = signup_ticket_id(tx, f->id, &ticket_id);
    if (rc)
        return rc;
    if (!data || json_object_set_new(data, "kid", json_string(f->kid)) != 0 ||
        json_object_set_new(data, "ticket_signup_id", json_integer(ticket_id)) != 0 ||
        json_object_set_new(data, "issued_at", json_integer(f->issued_at)) != 0)
        return KIOSKD_ENOMEM;
    return 0;
}

/* Gives the first waitlisted guest of event_id the place that freed up. */
int signup_promote(struct store_tx *tx, int64_t event_id, int64_t *promoted)
{
    *promoted = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_FIRST_WAITLISTED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : store_rc(rc);
    if ((rc = signup_set_status(tx, id, "confirmed", 0)) != 0 ||
        (rc = event_counts(tx, event_id, 1, -1, 0, 0)) != 0)
        return rc;
    struct found f;
    json_t *data =
        json_pack("{s:I, s:I}", "signup_id", (json_int_t)id, "event_id", (json_int_t)event_id);
    if ((rc = signup_find_by_id(tx, id, &f)) != 0 || (rc = name_ticket(tx, &f, data)) != 0) {
        json_decref(data);
        return rc;
    }
    if ((rc = store_journal(tx, NULL, NULL, "waitlist_promote", "signup", id, "signup_promoted",
                            data)))
        return rc;
    *promoted = id;
    return 0;
}

static int signup_cancel_run(struct store_tx *tx, struct store_job *job)
{
    struct store_signup_cancel *j = (struct store_signup_cancel *)job;
    struct found f = {0};
    int rc = signup_find_by_id(tx, j->signup_id, &f);
    if (rc && rc != KIOSKD_ENOTFOUND)
        return rc;
    if (j->issued_at) { /* the guest holds a ticket: the ticket rule decides */
        enum store_why why = ticket_rule(&f, NULL, j->event_id, j->issued_at);
        if (why != WHY_NONE)
            return store_refuse(job, why);
    }
    if (rc || (j->event_id && j->event_id != f.event_id))
        return store_refuse(job, WHY_SIGNUP_NOT_FOUND);
    int64_t event_id = f.event_id;
    const char *status = f.status, *source = f.source;
    j->out_event_id = event_id;
    if (strcmp(status, "cancelled") == 0)
        return store_refuse(job, WHY_ALREADY_CANCELLED);
    struct checkin_in_force in_force;
    if ((rc = checkin_in_force(tx, j->signup_id, &in_force)) < 0)
        return rc;
    if (rc == 1)
        return store_refuse(job, WHY_CHECKED_IN);
    if ((rc = signup_set_status(tx, j->signup_id, "cancelled", store_tx_now(tx) / 1000000)) != 0)
        return rc;
    bool was_confirmed = strcmp(status, "confirmed") == 0 && strcmp(source, "walkin") != 0;
    if ((rc = event_counts(tx, event_id, was_confirmed ? -1 : 0,
                           strcmp(status, "waitlisted") == 0 ? -1 : 0, 0, 0)) != 0)
        return rc;
    json_t *data = json_pack("{s:I, s:I, s:s}", "signup_id", (json_int_t)j->signup_id, "event_id",
                             (json_int_t)event_id, "by", j->by.staff_id[0] ? "staff" : "guest");
    if ((rc = name_ticket(tx, &f, data)) != 0) {
        json_decref(data);
        return rc;
    }
    if ((rc = store_journal(tx, j->by.staff_id, j->by.device, "signup_cancel", "signup",
                            j->signup_id, "signup_cancelled", data)) != 0)
        return rc;
    if (!was_confirmed)
        return 0;
    struct store_event ev;
    if ((rc = store_event_read(tx->c, event_id, &ev)) != 0)
        return rc;
    if (strcmp(ev.status, "open") != 0 || store_tx_now(tx) / 1000000 >= ev.ends_at ||
        ev.confirmed >= ev.capacity)
        return 0;
    return signup_promote(tx, event_id, &j->promoted_signup_id);
}

void store_signup_cancel_init(struct store_signup_cancel *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = signup_cancel_run;
}

/* --- reads --- */

int store_roster(struct store *s, int64_t event_id, const char *last4, size_t max,
                 struct store_roster_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_ROSTER);
    if (!st)
        return KIOSKD_EIO;
    struct store_roster_row *out = calloc(max ? max : 1, sizeof *out);
    if (!out)
        return KIOSKD_ENOMEM;
    sqlite3_bind_int64(st, 1, event_id);
    if (last4)
        sqlite3_bind_text(st, 2, last4, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    size_t i = 0;
    int rc = SQLITE_DONE;
    while (i < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_roster_row *r = &out[i++];
        r->signup_id = sqlite3_column_int64(st, 0);
        int len = sqlite3_column_bytes(st, 1);
        if (len < 0 || (size_t)len > sizeof r->name_enc)
            len = 0;
        memcpy(r->name_enc, sqlite3_column_blob(st, 1), (size_t)len);
        r->name_enc_len = (size_t)len;
        store_col_text(r->name_mask, sizeof r->name_mask, st, 2);
        store_col_text(r->phone_last4, sizeof r->phone_last4, st, 3);
        store_col_text(r->status, sizeof r->status, st, 4);
        store_col_text(r->source, sizeof r->source, st, 5);
        r->checkin_id = sqlite3_column_int64(st, 6);
        r->checkin_us = sqlite3_column_int64(st, 7);
        len = sqlite3_column_bytes(st, 8);
        if (len < 0 || (size_t)len > sizeof r->phone_enc)
            len = 0;
        memcpy(r->phone_enc, sqlite3_column_blob(st, 8), (size_t)len);
        r->phone_enc_len = (size_t)len;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(out);
        return store_rc(rc);
    }
    *rows = out;
    *n = i;
    return 0;
}

int store_waitlist(struct store *s, int64_t event_id, size_t max, struct store_waitlist_row **rows,
                   size_t *n)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_WAITLIST);
    if (!st)
        return KIOSKD_EIO;
    struct store_waitlist_row *out = calloc(max ? max : 1, sizeof *out);
    if (!out)
        return KIOSKD_ENOMEM;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    size_t i = 0;
    int rc = SQLITE_DONE;
    while (i < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_waitlist_row *r = &out[i++];
        r->signup_id = sqlite3_column_int64(st, 0);
        store_col_text(r->name_mask, sizeof r->name_mask, st, 1);
        store_col_text(r->phone_last4, sizeof r->phone_last4, st, 2);
        r->position = (int64_t)i;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(out);
        return store_rc(rc);
    }
    *rows = out;
    *n = i;
    return 0;
}

int store_waitlist_phone(struct store *s, int64_t event_id, int64_t signup_id, unsigned char *enc,
                         size_t cap, size_t *len)
{
    *len = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_WAITLIST_PHONE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    sqlite3_bind_int64(st, 2, event_id);
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        int bytes = sqlite3_column_bytes(st, 0);
        if (bytes <= 0 || (size_t)bytes > cap) {
            out = KIOSKD_EIO; /* a damaged row */
        } else {
            memcpy(enc, sqlite3_column_blob(st, 0), (size_t)bytes);
            *len = (size_t)bytes;
        }
    } else {
        out = rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    }
    sqlite3_reset(st);
    return out;
}

int store_ticket_state(struct store *s, int64_t signup_id, int64_t event_id, int64_t issued_at,
                       enum store_why *why)
{
    return store_ticket_view(s, signup_id, event_id, issued_at, why, NULL);
}

int store_ticket_view(struct store *s, int64_t signup_id, int64_t event_id, int64_t issued_at,
                      enum store_why *why, struct store_ticket *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_TICKET_INFO);
    if (!st)
        return KIOSKD_EIO;
    struct found f = {0};
    char event_status[16] = "";
    sqlite3_bind_int64(st, 1, signup_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        f.id = signup_id;
        f.event_id = sqlite3_column_int64(st, 0);
        f.issued_at = sqlite3_column_int64(st, 1);
        store_col_text(f.status, sizeof f.status, st, 2);
        store_col_text(event_status, sizeof event_status, st, 3);
        store_col_text(f.short_code, sizeof f.short_code, st, 4);
        store_col_text(f.name_mask, sizeof f.name_mask, st, 5);
    }
    sqlite3_reset(st);
    if (out) {
        snprintf(out->status, sizeof out->status, "%s", f.status);
        snprintf(out->short_code, sizeof out->short_code, "%s", f.short_code);
        snprintf(out->name_mask, sizeof out->name_mask, "%s", f.name_mask);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    *why = ticket_rule(&f, event_status, event_id, issued_at);
    return 0;
}

static int audit_only_run(struct store_tx *tx, struct store_job *job)
{
    struct store_audit_only *j = (struct store_audit_only *)job;
    return store_audit(tx, j->by.staff_id, j->by.device[0] ? j->by.device : NULL, j->action,
                       j->subject[0] ? j->subject : NULL);
}

void store_audit_only_init(struct store_audit_only *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = audit_only_run;
}
