/*
 * The points ledger (invariants in store/ledger.h, the lines' meaning in
 * store/migrations/0009_points.sql). Everything here runs on the writer
 * thread inside a job's savepoint, except store_points_view (the loop's read
 * connection). Reads that feed a write are collected first and the statement
 * reset before anything is written.
 */
#include "store/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/points.h"
#include "core/status.h"
#include "store/store_int.h"

static const char SQL_LINE_INSERT[] =
    "INSERT INTO points_lines(member_id, delta, reason, lot_id, expires_on, signup_id, "
    "upgrade_id, op_id, reverses, product, coef_milli, at_us, staff_id, device) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
static const char SQL_HQ_LINE_KNOWN[] = "SELECT 1 FROM points_lines WHERE hq_id = ?1";
static const char SQL_HQ_LINE_INSERT[] =
    "INSERT INTO points_lines(member_id, delta, reason, expires_on, at_us, hq_id, note) "
    "VALUES (?1, ?2, 'hq', ?3, ?4, ?5, ?6)";
static const char SQL_BALANCE_ADD[] = "UPDATE members SET balance = balance + ?2 WHERE id = ?1";
static const char SQL_HOUSEHOLD_BALANCE[] =
    "SELECT coalesce(sum(balance), 0) FROM members WHERE household = ?1";
static const char SQL_OP_INSERT[] =
    "INSERT INTO points_ops(kind, member_id, to_member_id, points, from_household, text, "
    "staff_id, device, at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/* What is left of each lot: (id, member_id, expires_on, left). ?1 names the
 * member (or the household), ?2 a date. */
#define LOT_COLUMNS                                                                                \
    "SELECT l.id, l.member_id, l.expires_on, l.delta + coalesce((SELECT sum(d.delta) "             \
    "FROM points_lines d WHERE d.lot_id = l.id), 0) FROM points_lines l "
static const char SQL_LOTS_OF_MEMBER[] = LOT_COLUMNS
    "WHERE l.member_id = ?1 AND l.lot_id IS NULL AND l.expires_on >= ?2 ORDER BY l.expires_on, "
    "l.id";
static const char SQL_LOTS_OF_HOUSEHOLD[] = LOT_COLUMNS
    "WHERE l.member_id IN (SELECT id FROM members WHERE household = ?1) AND l.lot_id IS NULL "
    "AND l.expires_on >= ?2 ORDER BY l.expires_on, l.id";
static const char SQL_LAPSED_OF_MEMBER[] =
    LOT_COLUMNS "WHERE l.member_id = ?1 AND l.lot_id IS NULL AND l.expires_on < ?2 ORDER BY l.id";
static const char SQL_LAPSED_OF_HOUSEHOLD[] = LOT_COLUMNS
    "WHERE l.member_id IN (SELECT id FROM members WHERE household = ?1) AND l.lot_id IS NULL "
    "AND l.expires_on < ?2 ORDER BY l.id";
static const char SQL_LAPSED_ALL[] =
    LOT_COLUMNS "WHERE l.lot_id IS NULL AND l.expires_on < ?2 ORDER BY l.member_id, l.id";

static const char SQL_SIGNUP_HASHES[] =
    "SELECT phone_hash, referrer_hash FROM signups WHERE id = ?1";
static const char SQL_MEMBER_OF_HASH[] =
    "SELECT id FROM members WHERE phone_hash = ?1 ORDER BY id LIMIT 1";
/* earnings of a sign-up still in force (not reversed) */
static const char SQL_EARNED_FOR_SIGNUP[] =
    "SELECT l.id, l.member_id, l.delta FROM points_lines l WHERE l.signup_id = ?1 "
    "AND l.reason IN ('checkin', 'referral') AND (?2 IS NULL OR l.reason = ?2) "
    "AND NOT EXISTS (SELECT 1 FROM points_lines r WHERE r.reverses = l.id) ORDER BY l.id";
/* a referral bonus in force for any sign-up of this phone */
static const char SQL_REFERRAL_OF_PHONE[] =
    "SELECT 1 FROM signups s JOIN points_lines l ON l.signup_id = s.id "
    "WHERE s.phone_hash = ?1 AND l.reason = 'referral' "
    "AND NOT EXISTS (SELECT 1 FROM points_lines r WHERE r.reverses = l.id) LIMIT 1";

/* Points of a lot that expired (the expiry lines drawing on it). */
static const char SQL_LOT_EXPIRED[] =
    "SELECT coalesce(-sum(delta), 0) FROM points_lines WHERE lot_id = ?1 AND reason = 'expiry'";

/* One line to append. */
struct line {
    int64_t member_id, delta;
    const char *reason;
    int64_t lot_id; /* negative lines: the lot drawn from */
    const char *expires_on;
    int64_t signup_id, upgrade_id, op_id, reverses;
    const char *product;
    int64_t coef_milli;
    const struct store_actor *by;
};

struct lot {
    int64_t id, member_id, left;
    char expires_on[DATE_LEN];
};

/* A growable list of lots; total is the sum of their points left. */
struct lots {
    struct lot *v;
    size_t n, cap;
    int64_t total;
};

static void lots_free(struct lots *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int lots_push(struct lots *l, const struct lot *x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct lot *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return KIOSKD_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *x;
    l->total += x->left;
    return 0;
}

/* Reads the lots sql selects with points left (member_id, or household when
 * not NULL; date), until their total reaches need (0: all of them). */
static int lots_read(struct store_tx *tx, const char *sql, int64_t member_id, const char *household,
                     const char *date, int64_t need, struct lots *out)
{
    sqlite3_stmt *st = conn_stmt(tx->c, sql);
    if (!st)
        return KIOSKD_EIO;
    if (household)
        sqlite3_bind_text(st, 1, household, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_text(st, 2, date, -1, SQLITE_STATIC);
    int rc = SQLITE_DONE, err = 0;
    while ((need == 0 || out->total < need) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct lot x = {.id = sqlite3_column_int64(st, 0),
                        .member_id = sqlite3_column_int64(st, 1),
                        .left = sqlite3_column_int64(st, 3)};
        store_col_text(x.expires_on, sizeof x.expires_on, st, 2);
        if (x.left > 0 && (err = lots_push(out, &x)) != 0)
            break;
    }
    if (!err && need != 0 && out->total >= need)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    if (err)
        return err;
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int balance_add(struct store_tx *tx, int64_t member_id, int64_t delta)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_BALANCE_ADD);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_int64(st, 2, delta);
    return store_step_done(st);
}

static void bind_id(sqlite3_stmt *st, int col, int64_t id)
{
    if (id)
        sqlite3_bind_int64(st, col, id);
}

static void bind_text(sqlite3_stmt *st, int col, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

/* Appends l, adds it to the balance and, when jl is not NULL, its JSON to jl. */
static int line_add(struct store_tx *tx, const struct line *l, json_t *jl)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_LINE_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, l->member_id);
    sqlite3_bind_int64(st, 2, l->delta);
    sqlite3_bind_text(st, 3, l->reason, -1, SQLITE_STATIC);
    bind_id(st, 4, l->lot_id);
    sqlite3_bind_text(st, 5, l->expires_on, -1, SQLITE_STATIC);
    bind_id(st, 6, l->signup_id);
    bind_id(st, 7, l->upgrade_id);
    bind_id(st, 8, l->op_id);
    bind_id(st, 9, l->reverses);
    bind_text(st, 10, l->product);
    if (l->product)
        sqlite3_bind_int64(st, 11, l->coef_milli);
    sqlite3_bind_int64(st, 12, store_tx_now(tx));
    bind_text(st, 13, l->by ? l->by->staff_id : NULL);
    bind_text(st, 14, l->by ? l->by->device : NULL);
    int rc = store_step_done(st);
    if (rc)
        return rc;
    int64_t id = sqlite3_last_insert_rowid(tx->c->db);
    if ((rc = balance_add(tx, l->member_id, l->delta)) != 0)
        return rc;
    if (!jl)
        return 0;
    struct member_row m;
    if ((rc = member_row_by_id(tx, l->member_id, &m)) != 0)
        return rc;
    return json_array_append_new(jl,
                                 json_pack("{s:I, s:s, s:I, s:s, s:s}", "id", (json_int_t)id,
                                           "member_no", m.member_no, "delta", (json_int_t)l->delta,
                                           "reason", l->reason, "expires_on", l->expires_on)) == 0
               ? 0
               : KIOSKD_ENOMEM;
}

/* Draws need points from lots in order: one line per lot drawn, shaped by
 * tmpl (reason, refs, actor). When got is not NULL, each piece drawn is
 * added to it (member, points, expiry) for a transfer to pass on. */
static int draw(struct store_tx *tx, const struct lots *lots, int64_t need, const struct line *tmpl,
                json_t *jl, struct lots *got)
{
    for (size_t i = 0; i < lots->n && need > 0; i++) {
        const struct lot *x = &lots->v[i];
        int64_t take = x->left < need ? x->left : need;
        struct line l = *tmpl;
        l.member_id = x->member_id;
        l.delta = -take;
        l.lot_id = x->id;
        l.expires_on = x->expires_on;
        int rc = line_add(tx, &l, jl);
        if (rc)
            return rc;
        if (got) {
            struct lot piece = *x;
            piece.left = take;
            if ((rc = lots_push(got, &piece)) != 0)
                return rc;
        }
        need -= take;
    }
    return need > 0 ? KIOSKD_EINVAL : 0;
}

static void today_of(struct store_tx *tx, char today[DATE_LEN])
{
    points_china_date(store_tx_now(tx) / 1000000, today);
}

/* Empties every lot sql selects as lapsed (member_id or household; before
 * today) with an expiry line; adds how many lines and points to *n, *points. */
static int expire_lapsed(struct store_tx *tx, const char *sql, int64_t member_id,
                         const char *household, json_t *jl, int64_t *n, int64_t *points)
{
    char today[DATE_LEN];
    today_of(tx, today);
    struct lots lapsed = {0};
    int rc = lots_read(tx, sql, member_id, household, today, 0, &lapsed);
    for (size_t i = 0; rc == 0 && i < lapsed.n; i++) {
        struct lot *x = &lapsed.v[i];
        struct line l = {.member_id = x->member_id,
                         .delta = -x->left,
                         .reason = "expiry",
                         .lot_id = x->id,
                         .expires_on = x->expires_on};
        rc = line_add(tx, &l, jl);
    }
    if (rc == 0) {
        *n += (int64_t)lapsed.n;
        *points += lapsed.total;
    }
    lots_free(&lapsed);
    return rc;
}

/* Appends the outbox entry and audit line of a points operation; takes data
 * and adds the lines to it. */
static int points_journal(struct store_tx *tx, const struct store_actor *by, const char *action,
                          const char *subject_kind, int64_t subject_id, json_t *data, json_t *jl)
{
    if (!data) {
        json_decref(jl);
        return KIOSKD_ENOMEM;
    }
    if (json_object_set_new(data, "lines", jl) != 0) {
        json_decref(data);
        return KIOSKD_ENOMEM;
    }
    return store_journal(tx, by ? by->staff_id : NULL, by ? by->device : NULL, action, subject_kind,
                         subject_id, "points", data);
}

int ledger_earn(struct store_tx *tx, const struct ledger_earning *e, int64_t *line_id)
{
    char expires[DATE_LEN];
    points_expires_on(store_tx_now(tx) / 1000000, e->expiry_years, expires);
    struct line l = {.member_id = e->member_id,
                     .delta = e->delta,
                     .reason = e->reason,
                     .expires_on = expires,
                     .signup_id = e->signup_id,
                     .upgrade_id = e->upgrade_id,
                     .product = e->product,
                     .coef_milli = e->coef_milli,
                     .by = e->by};
    json_t *jl = json_array();
    if (!jl)
        return KIOSKD_ENOMEM;
    int rc = line_add(tx, &l, jl);
    if (rc) {
        json_decref(jl);
        return rc;
    }
    int64_t id = sqlite3_last_insert_rowid(tx->c->db);
    if (line_id)
        *line_id = id;
    json_t *data = json_pack("{s:s}", "op", e->reason);
    if (data && e->signup_id)
        json_object_set_new(data, "signup_id", json_integer(e->signup_id));
    if (data && e->upgrade_id)
        json_object_set_new(data, "upgrade_id", json_integer(e->upgrade_id));
    if (data && e->product) {
        json_object_set_new(data, "product", json_string(e->product));
        json_object_set_new(data, "coef_milli", json_integer(e->coef_milli));
    }
    return points_journal(tx, e->by, "points_earn", "points_line", id, data, jl);
}

/* The id of the oldest member with this phone hash into *id (0: none). */
static int member_of_hash(struct store_tx *tx, const void *hash, int64_t *id)
{
    *id = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_OF_HASH);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, hash, STORE_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

/* 1 when the statement (bound by the caller) yields a row, 0 when not. */
static int exists(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int earned_already(struct store_tx *tx, int64_t signup_id, const char *reason)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_EARNED_FOR_SIGNUP);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    return exists(st);
}

int ledger_hq_merge(struct store_tx *tx, int64_t member_id, const char *hq_id, int64_t points,
                    const char *note, int64_t at, int expiry_years, bool *added)
{
    *added = false;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_HQ_LINE_KNOWN);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, hq_id, -1, SQLITE_STATIC);
    int rc = exists(st);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    char expires[DATE_LEN];
    points_expires_on(at, expiry_years, expires);
    if (!(st = conn_stmt(tx->c, SQL_HQ_LINE_INSERT)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_int64(st, 2, points);
    sqlite3_bind_text(st, 3, expires, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, at * 1000000);
    sqlite3_bind_text(st, 5, hq_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, note, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0 || (rc = balance_add(tx, member_id, points)) != 0)
        return rc;
    *added = true;
    return 0;
}

int ledger_member_of_signup(struct store_tx *tx, int64_t signup_id, int64_t *member_id)
{
    *member_id = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_HASHES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    unsigned char phone[STORE_HASH_LEN];
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_HASH_LEN;
    if (ok)
        memcpy(phone, sqlite3_column_blob(st, 0), STORE_HASH_LEN);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    return ok ? member_of_hash(tx, phone, member_id) : 0;
}

int ledger_checkin_earn(struct store_tx *tx, int64_t signup_id, const struct points_rules *r,
                        const struct store_actor *by, struct ledger_checkin_earned *out)
{
    memset(out, 0, sizeof *out);
    unsigned char phone[STORE_HASH_LEN], referrer[STORE_HASH_LEN];
    bool has_referrer = false;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_HASHES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_HASH_LEN) {
        memcpy(phone, sqlite3_column_blob(st, 0), STORE_HASH_LEN);
        has_referrer = sqlite3_column_bytes(st, 1) == STORE_HASH_LEN;
        if (has_referrer)
            memcpy(referrer, sqlite3_column_blob(st, 1), STORE_HASH_LEN);
    } else if (rc == SQLITE_ROW) {
        rc = SQLITE_CORRUPT;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);

    if ((rc = member_of_hash(tx, phone, &out->member_id)) != 0)
        return rc;
    if (out->member_id && r->checkin_bonus > 0) {
        if ((rc = earned_already(tx, signup_id, "checkin")) < 0)
            return rc;
        struct ledger_earning e = {.member_id = out->member_id,
                                   .delta = r->checkin_bonus,
                                   .reason = "checkin",
                                   .signup_id = signup_id,
                                   .expiry_years = r->expiry_years,
                                   .by = by};
        if (rc == 0 && (rc = ledger_earn(tx, &e, NULL)) != 0)
            return rc;
        if (rc == 0)
            out->checkin_points = r->checkin_bonus;
    }
    if (!has_referrer || r->referral_bonus <= 0 || memcmp(phone, referrer, STORE_HASH_LEN) == 0)
        return 0;
    int64_t referrer_id;
    if ((rc = member_of_hash(tx, referrer, &referrer_id)) != 0)
        return rc;
    if (!referrer_id || referrer_id == out->member_id)
        return 0; /* no member to reward, or the guest's own member */
    if (!(st = conn_stmt(tx->c, SQL_REFERRAL_OF_PHONE)))
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, phone, STORE_HASH_LEN, SQLITE_STATIC);
    if ((rc = exists(st)) != 0)
        return rc < 0 ? rc : 0; /* this guest has earned someone a referral already */
    struct ledger_earning e = {.member_id = referrer_id,
                               .delta = r->referral_bonus,
                               .reason = "referral",
                               .signup_id = signup_id,
                               .expiry_years = r->expiry_years,
                               .by = by};
    if ((rc = ledger_earn(tx, &e, NULL)) != 0)
        return rc;
    out->referral_points = r->referral_bonus;
    return 0;
}

/* Takes back earning line `earned` (delta points of member_id, lot `earned`
 * itself first), less what of it has expired already: those points are gone.
 * Returns 0, 1 when the balance is short, or an error. */
static int reverse_one(struct store_tx *tx, int64_t earned, int64_t member_id, int64_t delta,
                       int64_t signup_id, const struct store_actor *by, json_t *jl)
{
    int64_t n = 0, points = 0;
    int rc = expire_lapsed(tx, SQL_LAPSED_OF_MEMBER, member_id, NULL, jl, &n, &points);
    if (rc)
        return rc;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_LOT_EXPIRED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, earned);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        delta -= sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if (delta <= 0)
        return 0;
    char today[DATE_LEN];
    today_of(tx, today);
    struct lots lots = {0};
    if ((rc = lots_read(tx, SQL_LOTS_OF_MEMBER, member_id, NULL, today, 0, &lots)) != 0)
        goto out;
    if (lots.total < delta) {
        rc = 1;
        goto out;
    }
    for (size_t i = 1; i < lots.n; i++) /* the earned lot first, the rest in order */
        if (lots.v[i].id == earned) {
            struct lot x = lots.v[i];
            memmove(&lots.v[1], &lots.v[0], i * sizeof x);
            lots.v[0] = x;
        }
    struct line tmpl = {.reason = "reversal", .signup_id = signup_id, .reverses = earned, .by = by};
    rc = draw(tx, &lots, delta, &tmpl, jl, NULL);
out:
    lots_free(&lots);
    return rc;
}

int ledger_checkin_reverse(struct store_tx *tx, int64_t signup_id, const struct store_actor *by)
{
    struct {
        int64_t id, member_id, delta;
    } earned[8];
    int n = 0, rc = SQLITE_DONE;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_EARNED_FOR_SIGNUP);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    while (n < 8 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        earned[n].id = sqlite3_column_int64(st, 0);
        earned[n].member_id = sqlite3_column_int64(st, 1);
        earned[n].delta = sqlite3_column_int64(st, 2);
        n++;
    }
    if (n == 8)
        rc = SQLITE_DONE; /* one check-in and one referral at most: never reached */
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    if (n == 0)
        return 0;
    json_t *jl = json_array();
    if (!jl)
        return KIOSKD_ENOMEM;
    for (int i = 0; i < n; i++) {
        rc = reverse_one(tx, earned[i].id, earned[i].member_id, earned[i].delta, signup_id, by, jl);
        if (rc) {
            json_decref(jl);
            return rc;
        }
    }
    return points_journal(
        tx, by, "points_reverse", "signup", signup_id,
        json_pack("{s:s, s:I}", "op", "reversal", "signup_id", (json_int_t)signup_id), jl);
}

static int op_insert(struct store_tx *tx, const char *kind, int64_t member_id, int64_t to_id,
                     int64_t points, bool household, const char *text, const struct store_actor *by,
                     int64_t *op_id)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_OP_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, member_id);
    bind_id(st, 3, to_id);
    sqlite3_bind_int64(st, 4, points);
    sqlite3_bind_int(st, 5, household);
    sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, by->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, by->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, store_tx_now(tx));
    int rc = store_step_done(st);
    if (rc == 0)
        *op_id = sqlite3_last_insert_rowid(tx->c->db);
    return rc;
}

static int household_balance(struct store_tx *tx, const char *household, int64_t *out)
{
    *out = 0;
    if (!household[0])
        return 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_HOUSEHOLD_BALANCE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, household, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

static int redeem_run(struct store_tx *tx, struct store_job *job)
{
    struct store_points_redeem *j = (struct store_points_redeem *)job;
    struct member_row m;
    int rc = member_row_by_no(tx, j->member_no, &m);
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? store_refuse(job, WHY_MEMBER_NOT_FOUND) : rc;
    if (j->from_household && !m.household[0])
        return store_refuse(job, WHY_NO_HOUSEHOLD);
    const char *hh = j->from_household ? m.household : NULL;
    json_t *jl = json_array();
    if (!jl)
        return KIOSKD_ENOMEM;
    int64_t n = 0, points = 0;
    char today[DATE_LEN];
    today_of(tx, today);
    struct lots lots = {0};
    rc = expire_lapsed(tx, hh ? SQL_LAPSED_OF_HOUSEHOLD : SQL_LAPSED_OF_MEMBER, m.id, hh, jl, &n,
                       &points);
    if (rc == 0)
        rc = lots_read(tx, hh ? SQL_LOTS_OF_HOUSEHOLD : SQL_LOTS_OF_MEMBER, m.id, hh, today,
                       j->points, &lots);
    if (rc == 0 && lots.total < j->points)
        rc = store_refuse(job, WHY_POINTS_SHORT);
    if (rc == 0)
        rc = op_insert(tx, "redemption", m.id, 0, j->points, j->from_household, j->item, &j->by,
                       &j->op_id);
    struct line tmpl = {.reason = "redemption", .op_id = j->op_id, .by = &j->by};
    if (rc == 0)
        rc = draw(tx, &lots, j->points, &tmpl, jl, NULL);
    lots_free(&lots);
    if (rc) {
        json_decref(jl);
        return rc;
    }
    rc = points_journal(tx, &j->by, "points_redeem", "points_op", j->op_id,
                        json_pack("{s:s, s:I, s:s, s:I, s:b, s:s}", "op", "redemption", "op_id",
                                  (json_int_t)j->op_id, "member_no", m.member_no, "points",
                                  (json_int_t)j->points, "from_household", j->from_household,
                                  "item", j->item),
                        jl);
    if (rc == 0)
        rc = member_row_by_id(tx, m.id, &m);
    if (rc == 0) {
        j->balance = m.balance;
        rc = household_balance(tx, m.household, &j->household_balance);
    }
    return rc;
}

void store_points_redeem_init(struct store_points_redeem *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = redeem_run;
}

static int transfer_run(struct store_tx *tx, struct store_job *job)
{
    struct store_points_transfer *j = (struct store_points_transfer *)job;
    struct member_row from, to;
    int rc = member_row_by_no(tx, j->from, &from);
    if (rc == 0 && (rc = member_row_by_no(tx, j->to, &to)) == KIOSKD_ENOTFOUND)
        j->to_missing = true;
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? store_refuse(job, WHY_MEMBER_NOT_FOUND) : rc;
    if (from.id == to.id)
        return store_refuse(job, WHY_SAME_MEMBER);
    json_t *jl = json_array();
    if (!jl)
        return KIOSKD_ENOMEM;
    int64_t n = 0, points = 0;
    char today[DATE_LEN];
    today_of(tx, today);
    struct lots lots = {0}, got = {0};
    rc = expire_lapsed(tx, SQL_LAPSED_OF_MEMBER, from.id, NULL, jl, &n, &points);
    if (rc == 0)
        rc = lots_read(tx, SQL_LOTS_OF_MEMBER, from.id, NULL, today, j->points, &lots);
    if (rc == 0 && lots.total < j->points)
        rc = store_refuse(job, WHY_POINTS_SHORT);
    if (rc == 0)
        rc =
            op_insert(tx, "transfer", from.id, to.id, j->points, false, j->note, &j->by, &j->op_id);
    struct line out = {.reason = "transfer_out", .op_id = j->op_id, .by = &j->by};
    if (rc == 0)
        rc = draw(tx, &lots, j->points, &out, jl, &got);
    /* the receiver gets one lot per expiry drawn (lots come oldest expiry first) */
    for (size_t i = 0; rc == 0 && i < got.n; i++) {
        int64_t sum = got.v[i].left;
        while (i + 1 < got.n && strcmp(got.v[i + 1].expires_on, got.v[i].expires_on) == 0)
            sum += got.v[++i].left;
        struct line in = {.member_id = to.id,
                          .delta = sum,
                          .reason = "transfer_in",
                          .expires_on = got.v[i].expires_on,
                          .op_id = j->op_id,
                          .by = &j->by};
        rc = line_add(tx, &in, jl);
    }
    lots_free(&lots);
    lots_free(&got);
    if (rc) {
        json_decref(jl);
        return rc;
    }
    rc = points_journal(tx, &j->by, "points_transfer", "points_op", j->op_id,
                        json_pack("{s:s, s:I, s:s, s:s, s:I, s:s}", "op", "transfer", "op_id",
                                  (json_int_t)j->op_id, "from", from.member_no, "to", to.member_no,
                                  "points", (json_int_t)j->points, "note", j->note),
                        jl);
    if (rc == 0 && (rc = member_row_by_id(tx, from.id, &from)) == 0 &&
        (rc = member_row_by_id(tx, to.id, &to)) == 0) {
        j->from_balance = from.balance;
        j->to_balance = to.balance;
    }
    return rc;
}

void store_points_transfer_init(struct store_points_transfer *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = transfer_run;
}

/* Lines per outbox entry of the expiry: a year's end may expire many lots. */
#define EXPIRY_LINES_PER_ENTRY 500

static int expire_run(struct store_tx *tx, struct store_job *job)
{
    struct store_points_expire *j = (struct store_points_expire *)job;
    char today[DATE_LEN];
    today_of(tx, today);
    struct lots lapsed = {0};
    int rc = lots_read(tx, SQL_LAPSED_ALL, 0, NULL, today, 0, &lapsed);
    json_t *jl = NULL;
    j->lines = j->points = 0;
    for (size_t i = 0; rc == 0 && i < lapsed.n; i++) {
        if (!jl && !(jl = json_array())) {
            rc = KIOSKD_ENOMEM;
            break;
        }
        struct lot *x = &lapsed.v[i];
        struct line l = {.member_id = x->member_id,
                         .delta = -x->left,
                         .reason = "expiry",
                         .lot_id = x->id,
                         .expires_on = x->expires_on};
        if ((rc = line_add(tx, &l, jl)) != 0)
            break;
        j->lines++;
        j->points += x->left;
        if (json_array_size(jl) == EXPIRY_LINES_PER_ENTRY || i + 1 == lapsed.n) {
            json_t *data =
                json_pack("{s:s, s:s, s:o}", "op", "expiry", "today", today, "lines", jl);
            jl = NULL; /* json_pack's "o" took it, also when it failed */
            rc = store_outbox_append(tx, "points", data);
        }
    }
    json_decref(jl);
    lots_free(&lapsed);
    if (rc || j->lines == 0)
        return rc;
    char subject[64];
    snprintf(subject, sizeof subject, "lines:%lld,points:%lld", (long long)j->lines,
             (long long)j->points);
    return store_audit(tx, NULL, NULL, "points_expire", subject);
}

void store_points_expire_init(struct store_points_expire *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = expire_run;
}

/* --- the loop's reads --- */

static const char SQL_VIEW_LINES[] =
    "SELECT id, delta, reason, expires_on, at_us, note FROM points_lines WHERE member_id = ?1 "
    "ORDER BY id DESC LIMIT 20";
static const char SQL_VIEW_EXPIRING[] =
    "SELECT coalesce(sum(l.delta + coalesce((SELECT sum(d.delta) FROM points_lines d "
    "WHERE d.lot_id = l.id), 0)), 0) FROM points_lines l WHERE l.member_id = ?1 "
    "AND l.lot_id IS NULL AND l.expires_on >= ?2 AND l.expires_on <= ?3";

int store_points_view(struct store *s, int64_t member_id, const char *today,
                      struct store_points_view *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_VIEW_LINES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, member_id);
    int rc = SQLITE_DONE;
    while (out->nlines < POINTS_LINES_SHOWN && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_points_line *l = &out->lines[out->nlines++];
        l->id = sqlite3_column_int64(st, 0);
        l->delta = sqlite3_column_int64(st, 1);
        store_col_text(l->reason, sizeof l->reason, st, 2);
        store_col_text(l->expires_on, sizeof l->expires_on, st, 3);
        l->at_us = sqlite3_column_int64(st, 4);
        store_col_text(l->note, sizeof l->note, st, 5);
    }
    if (out->nlines == POINTS_LINES_SHOWN)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    char year_end[DATE_LEN];
    snprintf(year_end, sizeof year_end, "%.4s-12-31", today);
    if (!(st = conn_stmt(&s->rd, SQL_VIEW_EXPIRING)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, member_id);
    sqlite3_bind_text(st, 2, today, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, year_end, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out->expiring_this_year = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}
