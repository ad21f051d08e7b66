/*
 * Upgrade registrations: the register, decide and arrival jobs (writer
 * thread) and the tablet's reads (the loop's read connection). The life of a
 * registration and its invariants are in store/upgrades.h. Reads that feed a
 * write are collected first and their statement reset before anything is
 * written.
 */
#include "store/upgrades.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/points.h"
#include "core/status.h"
#include "store/store_int.h"

static const char SQL_MEMBER_OF_SIGNUP[] =
    "SELECT m.id FROM signups s JOIN members m ON m.phone_hash = s.phone_hash WHERE s.id = ?1 "
    "ORDER BY m.id LIMIT 1";
static const char SQL_PRODUCT_COEF[] = "SELECT coef_milli FROM products WHERE code = ?1";
static const char SQL_UPGRADE_INSERT[] =
    "INSERT INTO upgrades(member_id, signup_id, event_id, mode, pledged_enc, target_tier, "
    "created_us, created_by, device) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_UPGRADE_PRODUCT_INSERT[] =
    "INSERT INTO upgrade_products(upgrade_id, product, amount_fen) VALUES (?1, ?2, ?3)";
static const char SQL_UPGRADE_GET[] =
    "SELECT member_id, status, target_tier, arrived_us IS NOT NULL FROM upgrades WHERE id = ?1";
static const char SQL_UPGRADE_DECIDE[] =
    "UPDATE upgrades SET status = ?2, reason = ?3, decided_us = ?4, decided_by = ?5 "
    "WHERE id = ?1 AND status = 'registered'";
static const char SQL_UPGRADE_LINES[] =
    "SELECT up.product, up.amount_fen, p.coef_milli FROM upgrade_products up "
    "JOIN products p ON p.code = up.product WHERE up.upgrade_id = ?1 ORDER BY up.product";
static const char SQL_MEMBER_TRIAL[] =
    "UPDATE members SET trial_tier = ?2, trial_until = ?3 WHERE id = ?1";
static const char SQL_MEMBER_AUM[] = "SELECT aum_enc FROM members WHERE id = ?1";
static const char SQL_MEMBER_ARRIVED[] =
    "UPDATE members SET aum_enc = ?2, tier = ?3, trial_tier = ?4, trial_until = ?5, "
    "updated_at = ?6 WHERE id = ?1";
static const char SQL_UPGRADE_ARRIVED[] =
    "UPDATE upgrades SET arrived_us = ?2, arrived_enc = ?3 WHERE id = ?1 AND arrived_us IS NULL";

static void bind_opt_text(sqlite3_stmt *st, int col, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

/* The member whose phone signed up signup_id into *id (0: none). */
static int member_of_signup(struct store_tx *tx, int64_t signup_id, int64_t *id)
{
    *id = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_OF_SIGNUP);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

/* 1 when product code exists, 0 when not, or a KIOSKD_E* code. */
static int product_exists(struct store_tx *tx, const char *code)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_PRODUCT_COEF);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int register_run(struct store_tx *tx, struct store_job *job)
{
    struct store_upgrade_register *j = (struct store_upgrade_register *)job;
    struct member_row m;
    int64_t member_id = 0;
    int rc;
    j->event_id = 0;
    if (j->signup_id) {
        struct found f;
        memset(&f, 0, sizeof f);
        rc = signup_find_by_id(tx, j->signup_id, &f);
        if (rc == KIOSKD_ENOTFOUND)
            return store_refuse(job, WHY_SIGNUP_NOT_FOUND);
        if (rc)
            return rc;
        struct checkin_in_force in;
        if ((rc = checkin_in_force(tx, j->signup_id, &in)) < 0)
            return rc;
        if (rc == 0)
            return store_refuse(job, WHY_NOT_CHECKED_IN);
        if ((rc = member_of_signup(tx, j->signup_id, &member_id)) != 0)
            return rc;
        if (!member_id)
            return store_refuse(job, WHY_NOT_A_MEMBER);
        j->event_id = f.event_id;
        rc = member_row_by_id(tx, member_id, &m);
    } else {
        rc = member_row_by_no(tx, j->member_no, &m);
        if (rc == KIOSKD_ENOTFOUND)
            return store_refuse(job, WHY_MEMBER_NOT_FOUND);
    }
    if (rc)
        return rc;
    for (int i = 0; i < j->nproducts; i++) {
        if ((rc = product_exists(tx, j->products[i].code)) < 0)
            return rc;
        if (rc == 0)
            return store_refuse(job, WHY_PRODUCT_NOT_FOUND);
    }
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_UPGRADE_INSERT);
    if (!st)
        return KIOSKD_EIO;
    j->created_us = store_tx_now(tx);
    sqlite3_bind_int64(st, 1, m.id);
    if (j->signup_id)
        sqlite3_bind_int64(st, 2, j->signup_id);
    if (j->event_id)
        sqlite3_bind_int64(st, 3, j->event_id);
    sqlite3_bind_text(st, 4, j->mode, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, j->pledged_enc, (int)j->pledged_enc_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, j->target_tier, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, j->created_us);
    sqlite3_bind_text(st, 8, j->by.staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, j->by.device, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->upgrade_id = sqlite3_last_insert_rowid(tx->c->db);
    json_t *products = json_array();
    for (int i = 0; i < j->nproducts; i++) {
        if (!(st = conn_stmt(tx->c, SQL_UPGRADE_PRODUCT_INSERT))) {
            json_decref(products);
            return KIOSKD_EIO;
        }
        sqlite3_bind_int64(st, 1, j->upgrade_id);
        sqlite3_bind_text(st, 2, j->products[i].code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, j->products[i].amount_fen);
        if ((rc = store_step_done(st)) != 0) {
            json_decref(products);
            return rc;
        }
        json_array_append_new(products,
                              json_pack("{s:s, s:I}", "code", j->products[i].code, "amount_fen",
                                        (json_int_t)j->products[i].amount_fen));
    }
    snprintf(j->out_member_no, sizeof j->out_member_no, "%s", m.member_no);
    snprintf(j->tier, sizeof j->tier, "%s", m.tier);
    snprintf(j->trial_tier, sizeof j->trial_tier, "%s", m.trial_tier);
    snprintf(j->trial_until, sizeof j->trial_until, "%s", m.trial_until);
    json_t *data =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:o*}", "upgrade_id", (json_int_t)j->upgrade_id,
                  "member_no", m.member_no, "mode", j->mode, "target_tier", j->target_tier,
                  "status", "registered", "products", products);
    if (data && j->signup_id) {
        json_object_set_new(data, "signup_id", json_integer(j->signup_id));
        json_object_set_new(data, "event_id", json_integer(j->event_id));
    }
    return store_journal(tx, j->by.staff_id, j->by.device, "upgrade_register", "upgrade",
                         j->upgrade_id, "upgrade", data);
}

void store_upgrade_register_init(struct store_upgrade_register *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = register_run;
}

struct upgrade_state {
    int64_t member_id;
    char status[12], target_tier[16];
    bool arrived;
};

static int upgrade_get(struct store_tx *tx, int64_t id, struct upgrade_state *u)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_UPGRADE_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        u->member_id = sqlite3_column_int64(st, 0);
        store_col_text(u->status, sizeof u->status, st, 1);
        store_col_text(u->target_tier, sizeof u->target_tier, st, 2);
        u->arrived = sqlite3_column_int(st, 3) != 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

/* A product line of an upgrade with the coefficient in force now. */
struct earn_line {
    char code[PRODUCT_CODE_MAX + 1];
    int64_t amount_fen, coef_milli;
};

static int lines_read(struct store_tx *tx, int64_t upgrade_id,
                      struct earn_line out[UPGRADE_PRODUCTS_MAX], int *n)
{
    *n = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_UPGRADE_LINES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, upgrade_id);
    int rc = SQLITE_DONE;
    while (*n < UPGRADE_PRODUCTS_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct earn_line *l = &out[(*n)++];
        store_col_text(l->code, sizeof l->code, st, 0);
        l->amount_fen = sqlite3_column_int64(st, 1);
        l->coef_milli = sqlite3_column_int64(st, 2);
    }
    if (*n == UPGRADE_PRODUCTS_MAX)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

/* Grants the trial of target_tier to m unless its tier (or a running trial)
 * is at or above it. */
static int trial_grant(struct store_tx *tx, struct store_upgrade_decide *j,
                       const struct member_row *m, const char *target, const char *today)
{
    int want = points_tier_rank(target);
    bool running = m->trial_tier[0] && strcmp(m->trial_until, today) >= 0;
    if (points_tier_rank(m->tier) >= want || (running && points_tier_rank(m->trial_tier) > want))
        return 0;
    char until[DATE_LEN];
    if (points_date_add(today, j->trial_days, until) != 0)
        return KIOSKD_EINVAL;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_TRIAL);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, m->id);
    sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, until, -1, SQLITE_STATIC);
    int rc = store_step_done(st);
    if (rc == 0) {
        j->trial_granted = true;
        snprintf(j->trial_tier, sizeof j->trial_tier, "%s", target);
        snprintf(j->trial_until, sizeof j->trial_until, "%s", until);
    }
    return rc;
}

static int decide_run(struct store_tx *tx, struct store_job *job)
{
    struct store_upgrade_decide *j = (struct store_upgrade_decide *)job;
    struct upgrade_state u;
    int rc = upgrade_get(tx, j->upgrade_id, &u);
    if (rc == KIOSKD_ENOTFOUND)
        return store_refuse(job, WHY_UPGRADE_NOT_FOUND);
    if (rc)
        return rc;
    if (strcmp(u.status, "registered") != 0)
        return store_refuse(job, WHY_UPGRADE_DECIDED);
    j->decided_us = store_tx_now(tx);
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_UPGRADE_DECIDE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->upgrade_id);
    sqlite3_bind_text(st, 2, j->approve ? "approved" : "rejected", -1, SQLITE_STATIC);
    bind_opt_text(st, 3, j->reason);
    sqlite3_bind_int64(st, 4, j->decided_us);
    sqlite3_bind_text(st, 5, j->by.staff_id, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    struct member_row m;
    if ((rc = member_row_by_id(tx, u.member_id, &m)) != 0)
        return rc;
    snprintf(j->trial_tier, sizeof j->trial_tier, "%s", m.trial_tier);
    snprintf(j->trial_until, sizeof j->trial_until, "%s", m.trial_until);
    j->points = 0;
    if (j->approve) {
        char today[DATE_LEN];
        points_china_date(j->decided_us / 1000000, today);
        if ((rc = trial_grant(tx, j, &m, u.target_tier, today)) != 0)
            return rc;
        struct earn_line lines[UPGRADE_PRODUCTS_MAX];
        int n;
        if ((rc = lines_read(tx, j->upgrade_id, lines, &n)) != 0)
            return rc;
        for (int i = 0; i < n; i++) {
            int64_t pts =
                points_for_amount(lines[i].amount_fen, j->rules.per_10k, lines[i].coef_milli);
            if (pts <= 0)
                continue;
            struct ledger_earning e = {.member_id = m.id,
                                       .delta = pts,
                                       .reason = "new_business",
                                       .upgrade_id = j->upgrade_id,
                                       .product = lines[i].code,
                                       .coef_milli = lines[i].coef_milli,
                                       .expiry_years = j->rules.expiry_years,
                                       .by = &j->by};
            if ((rc = ledger_earn(tx, &e, NULL)) != 0)
                return rc;
            j->points += pts;
        }
        if ((rc = member_row_by_id(tx, u.member_id, &m)) != 0)
            return rc;
    }
    snprintf(j->member_no, sizeof j->member_no, "%s", m.member_no);
    snprintf(j->tier, sizeof j->tier, "%s", m.tier);
    j->balance = m.balance;
    json_t *data = json_pack("{s:I, s:s, s:s, s:I}", "upgrade_id", (json_int_t)j->upgrade_id,
                             "member_no", m.member_no, "status",
                             j->approve ? "approved" : "rejected", "points", (json_int_t)j->points);
    if (data && j->trial_granted) {
        json_object_set_new(data, "trial_tier", json_string(j->trial_tier));
        json_object_set_new(data, "trial_until", json_string(j->trial_until));
    }
    return store_journal(tx, j->by.staff_id, j->by.device,
                         j->approve ? "upgrade_approve" : "upgrade_reject", "upgrade",
                         j->upgrade_id, "upgrade_decided", data);
}

void store_upgrade_decide_init(struct store_upgrade_decide *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = decide_run;
}

/* 1 when member_id's sealed AUM is still the blob enc, 0 when not, or a
 * KIOSKD_E* code. */
static int aum_unchanged(struct store_tx *tx, int64_t member_id, const unsigned char *enc,
                         size_t len)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_AUM);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, member_id);
    int rc = sqlite3_step(st), same = 0;
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        same = (size_t)sqlite3_column_bytes(st, 0) == len && b && memcmp(b, enc, len) == 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? same : rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int arrive_run(struct store_tx *tx, struct store_job *job)
{
    struct store_upgrade_arrive *j = (struct store_upgrade_arrive *)job;
    struct upgrade_state u;
    int rc = upgrade_get(tx, j->upgrade_id, &u);
    if (rc == KIOSKD_ENOTFOUND)
        return store_refuse(job, WHY_UPGRADE_NOT_FOUND);
    if (rc)
        return rc;
    if (strcmp(u.status, "approved") != 0)
        return store_refuse(job, WHY_UPGRADE_NOT_APPROVED);
    if (u.arrived)
        return store_refuse(job, WHY_ALREADY_ARRIVED);
    if ((rc = aum_unchanged(tx, u.member_id, j->old_aum_enc, j->old_aum_enc_len)) < 0)
        return rc;
    if (rc == 0)
        return store_refuse(job, WHY_MEMBER_CHANGED);
    struct member_row m;
    if ((rc = member_row_by_id(tx, u.member_id, &m)) != 0)
        return rc;
    /* the trial ends when the real tier reaches it */
    j->trial_ended = m.trial_tier[0] && points_tier_rank(j->tier) >= points_tier_rank(m.trial_tier);
    snprintf(j->trial_tier, sizeof j->trial_tier, "%s", j->trial_ended ? "" : m.trial_tier);
    snprintf(j->trial_until, sizeof j->trial_until, "%s", j->trial_ended ? "" : m.trial_until);
    j->arrived_us = store_tx_now(tx);
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MEMBER_ARRIVED);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, m.id);
    sqlite3_bind_blob(st, 2, j->aum_enc, (int)j->aum_enc_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->tier, -1, SQLITE_STATIC);
    bind_opt_text(st, 4, j->trial_tier);
    bind_opt_text(st, 5, j->trial_until);
    sqlite3_bind_int64(st, 6, j->arrived_us / 1000000);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    if (!(st = conn_stmt(tx->c, SQL_UPGRADE_ARRIVED)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->upgrade_id);
    sqlite3_bind_int64(st, 2, j->arrived_us);
    sqlite3_bind_blob(st, 3, j->arrived_enc, (int)j->arrived_enc_len, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    snprintf(j->member_no, sizeof j->member_no, "%s", m.member_no);
    json_t *data =
        json_pack("{s:I, s:s, s:s, s:b}", "upgrade_id", (json_int_t)j->upgrade_id, "member_no",
                  m.member_no, "tier", j->tier, "trial_ended", j->trial_ended);
    return store_journal(tx, j->by.staff_id, j->by.device, "upgrade_arrived", "upgrade",
                         j->upgrade_id, "upgrade_arrived", data);
}

void store_upgrade_arrive_init(struct store_upgrade_arrive *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = arrive_run;
}

/* --- reads (loop) --- */

static const char SQL_UPGRADE_AUM[] =
    "SELECT u.member_id, u.status, u.arrived_us IS NOT NULL, m.aum_enc FROM upgrades u "
    "JOIN members m ON m.id = u.member_id WHERE u.id = ?1";

/* Copies blob column col of st into dst (cap bytes); false when it does not fit. */
static bool col_blob(sqlite3_stmt *st, int col, unsigned char *dst, size_t cap, size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *len = 0;
    if (n > cap)
        return false;
    if (b && n)
        memcpy(dst, b, n);
    *len = n;
    return true;
}

int store_upgrade_aum(struct store *s, int64_t upgrade_id, struct store_upgrade_aum *out)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_UPGRADE_AUM);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, upgrade_id);
    int rc = sqlite3_step(st);
    bool fits = true;
    if (rc == SQLITE_ROW) {
        out->member_id = sqlite3_column_int64(st, 0);
        store_col_text(out->status, sizeof out->status, st, 1);
        out->arrived = sqlite3_column_int(st, 2) != 0;
        fits = col_blob(st, 3, out->aum_enc, sizeof out->aum_enc, &out->aum_enc_len);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return fits ? 0 : KIOSKD_EIO;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

#define UPGRADE_COLUMNS                                                                            \
    "SELECT u.id, coalesce(u.signup_id, 0), coalesce(u.event_id, 0), m.member_no, m.name_mask, "   \
    "m.tier, coalesce(m.trial_tier, ''), coalesce(m.trial_until, ''), u.target_tier, u.mode, "     \
    "u.status, coalesce(u.reason, ''), u.created_by, coalesce(u.decided_by, ''), u.created_us, "   \
    "coalesce(u.decided_us, 0), coalesce(u.arrived_us, 0), u.pledged_enc, u.arrived_enc "          \
    "FROM upgrades u JOIN members m ON m.id = u.member_id "
static const char SQL_UPGRADES_BY_STATUS[] =
    UPGRADE_COLUMNS "WHERE u.status = ?1 ORDER BY u.id DESC LIMIT ?2";
static const char SQL_UPGRADES_ALL[] = UPGRADE_COLUMNS "ORDER BY u.id DESC LIMIT ?2";
static const char SQL_UPGRADE_PRODUCTS[] =
    "SELECT product, amount_fen FROM upgrade_products WHERE upgrade_id = ?1 ORDER BY product";

static int row_products(struct store *s, struct store_upgrade_row *row)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_UPGRADE_PRODUCTS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, row->id);
    int rc = SQLITE_DONE;
    row->nproducts = 0;
    while (row->nproducts < UPGRADE_PRODUCTS_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct upgrade_product *p = &row->products[row->nproducts++];
        store_col_text(p->code, sizeof p->code, st, 0);
        p->amount_fen = sqlite3_column_int64(st, 1);
    }
    if (row->nproducts == UPGRADE_PRODUCTS_MAX)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

int store_upgrades_list(struct store *s, const char *status, size_t max,
                        struct store_upgrade_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, *status ? SQL_UPGRADES_BY_STATUS : SQL_UPGRADES_ALL);
    if (!st)
        return KIOSKD_EIO;
    struct store_upgrade_row *v = calloc(max ? max : 1, sizeof *v);
    if (!v)
        return KIOSKD_ENOMEM;
    if (*status)
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    int rc = SQLITE_DONE;
    size_t i = 0;
    bool fits = true;
    while (i < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_upgrade_row *r = &v[i++];
        r->id = sqlite3_column_int64(st, 0);
        r->signup_id = sqlite3_column_int64(st, 1);
        r->event_id = sqlite3_column_int64(st, 2);
        store_col_text(r->member_no, sizeof r->member_no, st, 3);
        store_col_text(r->name_mask, sizeof r->name_mask, st, 4);
        store_col_text(r->tier, sizeof r->tier, st, 5);
        store_col_text(r->trial_tier, sizeof r->trial_tier, st, 6);
        store_col_text(r->trial_until, sizeof r->trial_until, st, 7);
        store_col_text(r->target_tier, sizeof r->target_tier, st, 8);
        store_col_text(r->mode, sizeof r->mode, st, 9);
        store_col_text(r->status, sizeof r->status, st, 10);
        store_col_text(r->reason, sizeof r->reason, st, 11);
        store_col_text(r->created_by, sizeof r->created_by, st, 12);
        store_col_text(r->decided_by, sizeof r->decided_by, st, 13);
        r->created_us = sqlite3_column_int64(st, 14);
        r->decided_us = sqlite3_column_int64(st, 15);
        r->arrived_us = sqlite3_column_int64(st, 16);
        fits = fits &&
               col_blob(st, 17, r->pledged_enc, sizeof r->pledged_enc, &r->pledged_enc_len) &&
               col_blob(st, 18, r->arrived_enc, sizeof r->arrived_enc, &r->arrived_enc_len);
    }
    if (i == max && rc == SQLITE_ROW)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE ? (fits ? 0 : KIOSKD_EIO) : store_rc(rc);
    for (size_t k = 0; k < i && rc == 0; k++)
        rc = row_products(s, &v[k]);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = i;
    return 0;
}

static const char SQL_EVENT_UPGRADES[] =
    "SELECT count(*), coalesce(sum(status = 'approved'), 0) FROM upgrades WHERE event_id = ?1";

int store_event_upgrades(struct store *s, int64_t event_id, int64_t *registered, int64_t *approved)
{
    *registered = *approved = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_EVENT_UPGRADES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *registered = sqlite3_column_int64(st, 0);
        *approved = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

/* China months: the offset of UTC+08:00 in seconds, as SQL text. */
#define CN_OFFSET "28800"

static const char SQL_FUNNEL_EVENTS[] =
    "SELECT e.id, e.title, e.starts_at, "
    "(SELECT count(*) FROM signups s WHERE s.event_id = e.id AND s.status <> 'cancelled' "
    "AND s.source <> 'walkin'), e.checked_in, "
    "(SELECT count(*) FROM upgrades u WHERE u.event_id = e.id), "
    "(SELECT count(*) FROM upgrades u WHERE u.event_id = e.id AND u.status = 'approved'), "
    "(SELECT count(*) FROM upgrades u WHERE u.event_id = e.id AND u.arrived_us IS NOT NULL), "
    "strftime('%Y-%m', e.starts_at + " CN_OFFSET ", 'unixepoch'), "
    "(SELECT coalesce(sum(c.audience_size), 0) FROM campaigns c WHERE c.event_id = e.id) "
    "FROM events e WHERE e.starts_at >= ?1 AND e.starts_at < ?2 AND e.status <> 'cancelled' "
    "AND e.branch = '' ORDER BY e.starts_at, e.id LIMIT ?3";
static const char SQL_FUNNEL_MONTHS[] =
    "SELECT strftime('%Y-%m', created_us / 1000000 + " CN_OFFSET ", 'unixepoch') AS month, "
    "count(*), coalesce(sum(status = 'approved'), 0), "
    "coalesce(sum(arrived_us IS NOT NULL), 0) FROM upgrades "
    "WHERE created_us >= ?1 * 1000000 AND created_us < ?2 * 1000000 GROUP BY month ORDER BY month";

static struct store_funnel_month *month_of(struct store_funnel *f, const char *month)
{
    for (size_t i = 0; i < f->nmonths; i++)
        if (strcmp(f->months[i].month, month) == 0)
            return &f->months[i];
    if (f->nmonths == FUNNEL_MONTHS_MAX)
        return NULL;
    struct store_funnel_month *m = &f->months[f->nmonths++];
    memset(m, 0, sizeof *m);
    snprintf(m->month, sizeof m->month, "%s", month);
    return m;
}

static int month_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_funnel_month *)a)->month,
                  ((const struct store_funnel_month *)b)->month);
}

int store_funnel(struct store *s, int64_t from, int64_t to, struct store_funnel *f)
{
    memset(f, 0, sizeof *f);
    f->events = calloc(FUNNEL_EVENTS_MAX, sizeof *f->events);
    if (!f->events)
        return KIOSKD_ENOMEM;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_FUNNEL_EVENTS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, FUNNEL_EVENTS_MAX);
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && f->nevents < FUNNEL_EVENTS_MAX) {
        struct store_funnel_event *e = &f->events[f->nevents++];
        e->id = sqlite3_column_int64(st, 0);
        store_col_text(e->title, sizeof e->title, st, 1);
        e->starts_at = sqlite3_column_int64(st, 2);
        e->c.signed_up = sqlite3_column_int64(st, 3);
        e->c.checked_in = sqlite3_column_int64(st, 4);
        e->c.registered = sqlite3_column_int64(st, 5);
        e->c.approved = sqlite3_column_int64(st, 6);
        e->c.arrived = sqlite3_column_int64(st, 7);
        char month[8];
        store_col_text(month, sizeof month, st, 8);
        e->c.invited = sqlite3_column_int64(st, 9);
        struct store_funnel_month *m = month_of(f, month);
        if (m) {
            m->c.invited += e->c.invited;
            m->c.signed_up += e->c.signed_up;
            m->c.checked_in += e->c.checked_in;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_rc(rc);
    if (!(st = conn_stmt(&s->rd, SQL_FUNNEL_MONTHS)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char month[8];
        store_col_text(month, sizeof month, st, 0);
        struct store_funnel_month *m = month_of(f, month);
        if (m) {
            m->c.registered = sqlite3_column_int64(st, 1);
            m->c.approved = sqlite3_column_int64(st, 2);
            m->c.arrived = sqlite3_column_int64(st, 3);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    qsort(f->months, f->nmonths, sizeof f->months[0], month_cmp);
    return 0;
}

void store_funnel_free(struct store_funnel *f)
{
    free(f->events);
    f->events = NULL;
    f->nevents = 0;
}
