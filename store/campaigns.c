/*
 * Campaigns: the audience's read, the creation job, the steps' invitations
 * for the message scheduler and the reads of results (store/campaigns.h).
 */
#include "store/campaigns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/events.h"
#include "store/store_int.h"

#define STEPS_PER_RUN 16

/* The member m (an alias) holds no sign-up, not cancelled, for the event ev. */
#define NOT_SIGNED_UP(ev, m)                                                                       \
    "NOT EXISTS (SELECT 1 FROM signups s WHERE s.event_id = " ev " AND s.status <> 'cancelled' "   \
    "AND (s.phone_hash = " m ".phone_hash OR s.member_no = " m ".member_no))"

static const char SQL_CANDIDATES[] =
    "SELECT m.id, m.aum_enc FROM members m WHERE m.opted_out = 0 "
    "AND (?2 = 0 OR (?2 & CASE m.tier WHEN '长尾' THEN 1 WHEN '潜力' THEN 2 WHEN '中高端' THEN 4 "
    "WHEN '财私' THEN 8 ELSE 0 END) <> 0) "
    "AND (?3 IS NULL OR (m.last_txn IS NOT NULL AND m.last_txn < ?3)) "
    "AND (?4 = 0 OR CAST(substr(m.birthday, 6, 2) AS INTEGER) = ?4) "
    "AND (?5 = 0 OR (?5 = 1 AND m.household IS NOT NULL) OR (?5 = 2 AND m.household IS NULL) "
    "OR (?5 = 3 AND m.household = ?6)) "
    "AND " NOT_SIGNED_UP("?1", "m") " ORDER BY m.id";

int store_campaign_candidates(struct store *s, const struct campaign_filter *f,
                              struct campaign_candidate **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_CANDIDATES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, f->event_id);
    sqlite3_bind_int(st, 2, (int)f->tiers);
    if (f->sleeping_before[0])
        sqlite3_bind_text(st, 3, f->sleeping_before, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, f->birthday_month);
    sqlite3_bind_int(st, 5, f->household);
    if (f->household == CAMPAIGN_HOUSEHOLD_ONE)
        sqlite3_bind_text(st, 6, f->household_id, -1, SQLITE_STATIC);
    size_t cap = 0;
    struct campaign_candidate *a = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            struct campaign_candidate *b = realloc(a, ncap * sizeof *a);
            if (!b) {
                sqlite3_reset(st);
                free(a);
                return KIOSKD_ENOMEM;
            }
            a = b;
            cap = ncap;
        }
        struct campaign_candidate *c = &a[*n];
        c->id = sqlite3_column_int64(st, 0);
        int len = sqlite3_column_bytes(st, 1);
        c->aum_enc_len = len > 0 && (size_t)len <= sizeof c->aum_enc ? (size_t)len : 0;
        if (c->aum_enc_len)
            memcpy(c->aum_enc, sqlite3_column_blob(st, 1), c->aum_enc_len);
        (*n)++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(a);
        *n = 0;
        return store_rc(rc);
    }
    *out = a;
    return 0;
}

/* --- creation --- */

static const char SQL_CODE_TAKEN[] = "SELECT 1 FROM campaigns WHERE code = ?1";
static const char SQL_CAMPAIGN_INSERT[] =
    "INSERT INTO campaigns(event_id, name, code, audience, audience_size, created_at, created_by) "
    "VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)";
static const char SQL_STEP_INSERT[] =
    "INSERT INTO campaign_steps(campaign_id, pos, channel, at, run_at, template) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_MEMBER_ADD[] =
    "INSERT OR IGNORE INTO campaign_members(campaign_id, member_id, member_no) "
    "SELECT ?1, m.id, m.member_no FROM members m WHERE m.id = ?2 AND m.opted_out = 0 "
    "AND " NOT_SIGNED_UP("?3", "m");
static const char SQL_AUDIENCE_SIZE[] = "UPDATE campaigns SET audience_size = ?2 WHERE id = ?1";

/* Reads the one integer st's row gives into *out (0: no row). */
static int one_int(sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

/* 1 when code is taken, 0 when free, or an error. */
static int code_taken(struct store_tx *tx, const char *code)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CODE_TAKEN);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    int64_t taken;
    int rc = one_int(st, &taken);
    return rc ? rc : taken != 0;
}

static int create_run(struct store_tx *tx, struct store_job *job)
{
    struct store_campaign_create *j = (struct store_campaign_create *)job;
    struct store_event ev;
    int rc = store_event_read(tx->c, j->event_id, &ev);
    if (rc == KIOSKD_ENOTFOUND)
        return store_refuse(job, WHY_EVENT_NOT_FOUND);
    if (rc)
        return rc;
    if (strcmp(ev.status, "cancelled") == 0)
        return store_refuse(job, WHY_EVENT_CANCELLED);
    j->code[0] = '\0';
    for (int i = 0; i < CAMPAIGN_CODE_TRIES && !j->code[0]; i++) {
        if ((rc = code_taken(tx, j->codes[i])) < 0)
            return rc;
        if (rc == 0)
            memcpy(j->code, j->codes[i], sizeof j->code);
    }
    if (!j->code[0])
        return KIOSKD_EBUSY; /* four random codes taken: practically never */
    j->created_at = tx->now_us / 1000000;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CAMPAIGN_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->event_id);
    sqlite3_bind_text(st, 2, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, j->audience ? j->audience : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, j->created_at);
    sqlite3_bind_text(st, 6, j->by.staff_id, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->id = sqlite3_last_insert_rowid(tx->c->db);
    for (int i = 0; i < j->nsteps; i++) {
        struct campaign_step *p = &j->steps[i];
        if (!(st = conn_stmt(tx->c, SQL_STEP_INSERT)))
            return KIOSKD_EIO;
        p->run_at = ev.starts_at + p->offset;
        sqlite3_bind_int64(st, 1, j->id);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_text(st, 3, p->channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->at, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, p->run_at);
        if (p->template[0])
            sqlite3_bind_text(st, 6, p->template, -1, SQLITE_STATIC);
        if ((rc = store_step_done(st)) != 0)
            return rc;
        p->id = sqlite3_last_insert_rowid(tx->c->db);
    }
    j->audience_size = 0;
    for (size_t i = 0; i < j->nmembers; i++) {
        if (!(st = conn_stmt(tx->c, SQL_MEMBER_ADD)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, j->id);
        sqlite3_bind_int64(st, 2, j->member_ids[i]);
        sqlite3_bind_int64(st, 3, j->event_id);
        if ((rc = store_step_done(st)) != 0)
            return rc;
        j->audience_size += sqlite3_changes(tx->c->db);
    }
    if (!(st = conn_stmt(tx->c, SQL_AUDIENCE_SIZE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_int64(st, 2, j->audience_size);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    char subject[48];
    snprintf(subject, sizeof subject, "campaign:%lld", (long long)j->id);
    return store_audit(tx, j->by.staff_id, j->by.device, "campaign_create", subject);
}

void store_campaign_create_init(struct store_campaign_create *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = create_run;
}

/* --- the steps, run by the message scheduler --- */

static const char SQL_STEPS_DUE[] =
    "SELECT st.id, st.channel, c.id, c.event_id, st.cursor FROM campaign_steps st "
    "JOIN campaigns c ON c.id = st.campaign_id WHERE st.ran_at IS NULL AND st.run_at <= ?1 "
    "ORDER BY st.run_at, st.id LIMIT ?2";
/* the last member id of the next batch of campaign ?1 after ?2 (NULL: none left) */
static const char SQL_BATCH_END[] =
    "SELECT max(member_id) FROM (SELECT member_id FROM campaign_members WHERE campaign_id = ?1 "
    "AND member_id > ?2 ORDER BY member_id LIMIT ?3)";
/* ?1 now, ?2 the step, ?3 the event, ?4 the channel, ?5 the campaign, ?6 bound members only,
 * ?7 ?8 the batch's member ids (after, up to) */
static const char SQL_INVITE[] =
    "INSERT OR IGNORE INTO messages(uid, dedup_key, kind, channel, transactional, signup_id, "
    "event_id, member_id, maturity_id, person_hash, slot, due_at, next_at, created_at) "
    "SELECT lower(hex(randomblob(16))), 'invitation:k' || ?2 || ':m' || m.id || ':' || "
    "lower(hex(substr(m.phone_hash, 1, 8))), 'invitation', ?4, 0, NULL, ?3, m.id, NULL, "
    "m.phone_hash, CAST(?2 AS TEXT), ?1, ?1, ?1 "
    "FROM campaign_members cm JOIN members m ON m.id = cm.member_id WHERE cm.campaign_id = ?5 "
    "AND cm.member_id > ?7 AND cm.member_id <= ?8 "
    "AND " NOT_SIGNED_UP("?3", "m") " AND (?6 = 0 OR EXISTS (SELECT 1 FROM bot_bindings b "
                                    "WHERE b.member_id = m.id AND b.openid_enc IS NOT NULL))";
static const char SQL_STEP_BATCH[] =
    "UPDATE campaign_steps SET cursor = ?2, queued = queued + ?3 WHERE id = ?1";
static const char SQL_STEP_RAN[] =
    "UPDATE campaign_steps SET ran_at = ?2 WHERE id = ?1 AND ran_at IS NULL";

/* Queues the next batch of step's invitations on channel ch (up to *budget
 * members); *done when none were left. */
static int invite_batch(struct store_tx *tx, int64_t now, const int64_t step[4], const char *ch,
                        bool bound_only, int64_t *budget, int64_t *queued, bool *done)
{
    /* step: id, campaign, event, cursor */
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_BATCH_END);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, step[1]);
    sqlite3_bind_int64(st, 2, step[3]);
    sqlite3_bind_int64(st, 3, *budget);
    int rc = sqlite3_step(st);
    bool none = rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL;
    int64_t upto = none ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    *done = none;
    if (none)
        return 0;
    if (!(st = conn_stmt(tx->c, SQL_INVITE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, step[0]);
    sqlite3_bind_int64(st, 3, step[2]);
    sqlite3_bind_text(st, 4, ch, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, step[1]);
    sqlite3_bind_int(st, 6, bound_only);
    sqlite3_bind_int64(st, 7, step[3]);
    sqlite3_bind_int64(st, 8, upto);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    int64_t added = sqlite3_changes(tx->c->db);
    *queued += added;
    *budget -= CAMPAIGN_INVITE_BATCH; /* members looked at, whether queued or not */
    if (!(st = conn_stmt(tx->c, SQL_STEP_BATCH)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, step[0]);
    sqlite3_bind_int64(st, 2, upto);
    sqlite3_bind_int64(st, 3, added);
    return store_step_done(st);
}

int campaign_steps_run(struct store_tx *tx, const char *person_channel, bool wechat,
                       int64_t *queued, bool *more)
{
    struct {
        int64_t v[4]; /* id, campaign, event, cursor */
        char channel[8];
    } due[STEPS_PER_RUN];
    int n = 0, rc;
    int64_t now = tx->now_us / 1000000, budget = CAMPAIGN_INVITE_BATCH;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_STEPS_DUE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, STEPS_PER_RUN);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < STEPS_PER_RUN) {
        due[n].v[0] = sqlite3_column_int64(st, 0);
        store_col_text(due[n].channel, sizeof due[n].channel, st, 1);
        due[n].v[1] = sqlite3_column_int64(st, 2);
        due[n].v[2] = sqlite3_column_int64(st, 3);
        due[n].v[3] = sqlite3_column_int64(st, 4);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_rc(rc);
    for (int i = 0; i < n; i++) {
        bool by_wechat = strcmp(due[i].channel, "wechat") == 0, done = true;
        const char *ch = by_wechat                            ? (wechat ? "wechat" : NULL)
                         : strcmp(due[i].channel, "sms") == 0 ? person_channel
                                                              : NULL;
        if (ch && budget <= 0) {
            *more = true; /* the next run goes on */
            break;
        }
        if (ch && (rc = invite_batch(tx, now, due[i].v, ch, by_wechat, &budget, queued, &done)))
            return rc;
        if (!done) {
            *more = true;
            continue;
        }
        if (!(st = conn_stmt(tx->c, SQL_STEP_RAN)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, due[i].v[0]);
        sqlite3_bind_int64(st, 2, now);
        if ((rc = store_step_done(st)) != 0)
            return rc;
    }
    return 0;
}

static const char SQL_INVITE_OF_STEP[] =
    "SELECT c.event_id, c.code FROM campaign_steps st JOIN campaigns c ON c.id = st.campaign_id "
    "WHERE st.id = ?1";
static const char SQL_SIGNED_UP_SINCE[] =
    "SELECT 1 FROM members m WHERE m.id = ?2 AND NOT " NOT_SIGNED_UP("?1", "m");

int campaign_invitation_vars(struct store_tx *tx, const char *slot, int64_t member_id, json_t *d,
                             const char **why)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_INVITE_OF_STEP);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, strtoll(slot, NULL, 10));
    int rc = sqlite3_step(st);
    int64_t event_id = 0;
    char code[CAMPAIGN_CODE_LEN + 1] = "";
    if (rc == SQLITE_ROW) {
        event_id = sqlite3_column_int64(st, 0);
        store_col_text(code, sizeof code, st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        *why = "no_campaign";
        return 1;
    }
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if (!(st = conn_stmt(tx->c, SQL_SIGNED_UP_SINCE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_int64(st, 2, member_id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        *why = "signed_up";
        return 1;
    }
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    char link[64];
    snprintf(link, sizeof link, "/?event=%lld&c=%s", (long long)event_id, code);
    json_object_set_new(d, "link", json_string(link));
    return 0;
}

/* --- reads --- */

static const char SQL_CAMPAIGN_GET[] =
    "SELECT id, event_id, name, code, audience_size, created_at FROM campaigns WHERE id = ?1";
static const char SQL_STEPS_OF[] =
    "SELECT id, channel, at, coalesce(template, ''), run_at, coalesce(ran_at, 0) "
    "FROM campaign_steps WHERE campaign_id = ?1 ORDER BY pos";
static const char SQL_STEP_MESSAGES[] =
    "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'failed') "
    "FROM messages WHERE kind = 'invitation' AND slot = CAST(?1 AS TEXT)";
static const char SQL_STEP_CALLS[] =
    "SELECT count(DISTINCT member_id) FILTER (WHERE outcome IN ('reached', 'declined', "
    "'appointment')), count(DISTINCT member_id) FILTER (WHERE outcome = 'wrong_number') "
    "FROM campaign_calls WHERE campaign_id = ?1";
static const char SQL_STEP_SIGNUPS[] =
    "SELECT count(*) FROM signup_campaigns sc JOIN signups s ON s.id = sc.signup_id "
    "WHERE sc.step_id = ?1 AND s.status <> 'cancelled'";
static const char SQL_REACHED[] =
    "SELECT count(*) FROM (SELECT member_id FROM messages WHERE kind = 'invitation' "
    "AND status = 'sent' AND slot IN (SELECT CAST(id AS TEXT) FROM campaign_steps "
    "WHERE campaign_id = ?1) UNION SELECT member_id FROM campaign_calls WHERE campaign_id = ?1 "
    "AND outcome IN ('reached', 'declined', 'appointment'))";
static const char SQL_RESULTS[] =
    "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM checkins c "
    "WHERE c.signup_id = s.id AND c.undone_us IS NULL)), count(*) FILTER (WHERE EXISTS "
    "(SELECT 1 FROM upgrades u WHERE u.signup_id = s.id)), count(*) FILTER (WHERE EXISTS "
    "(SELECT 1 FROM upgrades u WHERE u.signup_id = s.id AND u.status = 'approved')) "
    "FROM signup_campaigns sc JOIN signups s ON s.id = sc.signup_id "
    "WHERE sc.campaign_id = ?1 AND s.status <> 'cancelled'";

/* Steps st (bound with a, b) and reads up to 4 integers of its one row into v. */
static int row_ints(sqlite3_stmt *st, int64_t a, int64_t b, int64_t *v, int nv)
{
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    for (int i = 0; i < nv; i++)
        v[i] = rc == SQLITE_ROW ? sqlite3_column_int64(st, i) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

int store_campaign_get(struct store *s, int64_t id, struct campaign_view *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_CAMPAIGN_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->event_id = sqlite3_column_int64(st, 1);
        store_col_text(out->name, sizeof out->name, st, 2);
        store_col_text(out->code, sizeof out->code, st, 3);
        out->audience_size = sqlite3_column_int64(st, 4);
        out->created_at = sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    if (!(st = conn_stmt(&s->rd, SQL_STEPS_OF)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->nsteps < CAMPAIGN_STEPS_MAX) {
        struct campaign_step_view *p = &out->steps[out->nsteps++];
        p->id = sqlite3_column_int64(st, 0);
        store_col_text(p->channel, sizeof p->channel, st, 1);
        store_col_text(p->at, sizeof p->at, st, 2);
        store_col_text(p->template, sizeof p->template, st, 3);
        p->run_at = sqlite3_column_int64(st, 4);
        p->ran_at = sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_rc(rc);
    for (int i = 0; i < out->nsteps; i++) {
        struct campaign_step_view *p = &out->steps[i];
        int64_t v[2];
        if (strcmp(p->channel, "call") == 0)
            rc = row_ints(conn_stmt(&s->rd, SQL_STEP_CALLS), id, p->ran_at, v, 2);
        else
            rc = row_ints(conn_stmt(&s->rd, SQL_STEP_MESSAGES), p->id, 0, v, 2);
        if (rc == 0)
            rc = row_ints(conn_stmt(&s->rd, SQL_STEP_SIGNUPS), p->id, 0, &p->signed_up, 1);
        if (rc)
            return rc;
        p->reached = v[0];
        p->failed = v[1];
    }
    int64_t r[4];
    if ((rc = row_ints(conn_stmt(&s->rd, SQL_REACHED), id, 0, &out->reached, 1)) != 0 ||
        (rc = row_ints(conn_stmt(&s->rd, SQL_RESULTS), id, 0, r, 4)) != 0)
        return rc;
    out->signed_up = r[0];
    out->checked_in = r[1];
    out->registered = r[2];
    out->approved = r[3];
    return 0;
}

static const char SQL_CAMPAIGN_IDS[] = "SELECT id FROM campaigns ORDER BY id DESC LIMIT ?1";

int store_campaign_ids(struct store *s, int64_t *ids, size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_CAMPAIGN_IDS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, (int64_t)max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
        ids[(*n)++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_rc(rc);
}

static const char SQL_CAMPAIGN_BY_CODE[] = "SELECT id, event_id FROM campaigns WHERE code = ?1";

int store_campaign_by_code(struct store *s, const char *code, int64_t *id, int64_t *event_id)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_CAMPAIGN_BY_CODE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *event_id = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

/* --- attribution of sign-ups --- */

static const char SQL_CAMPAIGN_OF_CODE[] =
    "SELECT id FROM campaigns WHERE code = ?1 AND event_id = ?2";
/* ?1 the event, ?2 the phone hash, ?3 the member number, ?4 now */
static const char SQL_CAMPAIGN_REACHED[] =
    "SELECT c.id FROM campaigns c JOIN campaign_members cm ON cm.campaign_id = c.id "
    "JOIN members m ON m.id = cm.member_id WHERE c.event_id = ?1 "
    "AND (m.phone_hash = ?2 OR m.member_no = ?3) AND (EXISTS (SELECT 1 FROM messages x "
    "WHERE x.kind = 'invitation' AND x.member_id = m.id AND x.status = 'sent' "
    "AND x.sent_at <= ?4 AND x.slot IN (SELECT CAST(id AS TEXT) FROM campaign_steps "
    "WHERE campaign_id = c.id)) OR EXISTS (SELECT 1 FROM campaign_calls cc WHERE "
    "cc.campaign_id = c.id AND cc.member_id = m.id AND cc.called_at <= ?4 AND cc.outcome IN "
    "('reached', 'declined', 'appointment'))) ORDER BY c.id DESC LIMIT 1";
/* ?1 the campaign, ?2 the phone hash, ?3 the member number, ?4 now */
static const char SQL_LAST_STEP[] =
    "SELECT step FROM (SELECT CAST(x.slot AS INTEGER) AS step, x.sent_at AS at FROM messages x "
    "JOIN members m ON m.id = x.member_id WHERE x.kind = 'invitation' AND x.status = 'sent' "
    "AND x.sent_at <= ?4 AND (m.phone_hash = ?2 OR m.member_no = ?3) AND x.slot IN "
    "(SELECT CAST(id AS TEXT) FROM campaign_steps WHERE campaign_id = ?1) "
    "UNION ALL SELECT (SELECT id FROM campaign_steps WHERE campaign_id = ?1 AND channel = 'call' "
    "ORDER BY pos LIMIT 1), cc.called_at FROM campaign_calls cc JOIN members m "
    "ON m.id = cc.member_id WHERE cc.campaign_id = ?1 AND cc.called_at <= ?4 "
    "AND cc.outcome IN ('reached', 'declined', 'appointment') "
    "AND (m.phone_hash = ?2 OR m.member_no = ?3)) WHERE step IS NOT NULL "
    "ORDER BY at DESC, step DESC LIMIT 1";
static const char SQL_ATTRIBUTE[] =
    "INSERT INTO signup_campaigns(signup_id, campaign_id, step_id) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(signup_id) DO UPDATE SET campaign_id = ?2, step_id = ?3";

static void bind_person(sqlite3_stmt *st, const unsigned char *hash, const char *member_no,
                        int64_t now)
{
    sqlite3_bind_blob(st, 2, hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, member_no, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
}

int campaign_attribute(struct store_tx *tx, int64_t signup_id, int64_t event_id, const char *code,
                       const unsigned char phone_hash[STORE_HASH_LEN], const char *member_no)
{
    int64_t now = tx->now_us / 1000000, campaign = 0, step = 0;
    sqlite3_stmt *st;
    int rc;
    if (code && code[0]) {
        if (!(st = conn_stmt(tx->c, SQL_CAMPAIGN_OF_CODE)))
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, event_id);
        if ((rc = one_int(st, &campaign)) != 0)
            return rc;
    }
    if (!campaign) {
        if (!(st = conn_stmt(tx->c, SQL_CAMPAIGN_REACHED)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, event_id);
        bind_person(st, phone_hash, member_no ? member_no : "", now);
        if ((rc = one_int(st, &campaign)) != 0)
            return rc;
    }
    if (!campaign)
        return 0;
    if (!(st = conn_stmt(tx->c, SQL_LAST_STEP)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, campaign);
    bind_person(st, phone_hash, member_no ? member_no : "", now);
    if ((rc = one_int(st, &step)) != 0)
        return rc;
    if (!(st = conn_stmt(tx->c, SQL_ATTRIBUTE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    sqlite3_bind_int64(st, 2, campaign);
    if (step)
        sqlite3_bind_int64(st, 3, step);
    return store_step_done(st);
}

/* --- the call list --- */

static const char SQL_CAMPAIGNS_CALLS_DUE[] =
    "SELECT c.id, c.name, c.event_id, e.title, e.starts_at FROM campaigns c JOIN events e "
    "ON e.id = c.event_id WHERE e.status <> 'cancelled' AND e.ends_at > ?1 AND EXISTS "
    "(SELECT 1 FROM campaign_steps WHERE campaign_id = c.id AND channel = 'call' "
    "AND run_at <= ?1) ORDER BY c.id DESC LIMIT ?2";

int store_campaigns_calls_due(struct store *s, int64_t now, struct campaign_calls_due *out,
                              size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_CAMPAIGNS_CALLS_DUE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (int64_t)max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        struct campaign_calls_due *c = &out[(*n)++];
        const unsigned char *name = sqlite3_column_text(st, 1), *title = sqlite3_column_text(st, 3);
        c->id = sqlite3_column_int64(st, 0);
        c->event_id = sqlite3_column_int64(st, 2);
        c->starts_at = sqlite3_column_int64(st, 4);
        snprintf(c->name, sizeof c->name, "%s", name ? (const char *)name : "");
        snprintf(c->event_title, sizeof c->event_title, "%s", title ? (const char *)title : "");
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static const char SQL_CALLS_DUE[] =
    "SELECT EXISTS (SELECT 1 FROM campaign_steps WHERE campaign_id = c.id AND channel = 'call' "
    "AND run_at <= ?2) FROM campaigns c WHERE c.id = ?1";
static const char SQL_CALLS[] =
    "SELECT m.member_no, m.name_mask, m.phone_last4, m.tier, m.aum_enc, coalesce((SELECT "
    "cc.outcome FROM campaign_calls cc WHERE cc.campaign_id = ?1 AND cc.member_id = m.id "
    "ORDER BY cc.id DESC LIMIT 1), '') FROM campaign_members cm JOIN campaigns c "
    "ON c.id = cm.campaign_id JOIN members m ON m.id = cm.member_id WHERE cm.campaign_id = ?1 "
    "AND " NOT_SIGNED_UP("c.event_id", "m") " ORDER BY m.id";

int store_campaign_calls(struct store *s, int64_t id, int64_t now, bool *due,
                         struct campaign_call_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    *due = false;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_CALLS_DUE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    *due = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return KIOSKD_ENOTFOUND;
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if (!*due)
        return 0;
    if (!(st = conn_stmt(&s->rd, SQL_CALLS)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    size_t cap = 0;
    struct campaign_call_row *a = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct campaign_call_row *b = realloc(a, ncap * sizeof *a);
            if (!b) {
                rc = SQLITE_NOMEM;
                break;
            }
            a = b;
            cap = ncap;
        }
        struct campaign_call_row *w = &a[(*n)++];
        store_col_text(w->member_no, sizeof w->member_no, st, 0);
        store_col_text(w->name_mask, sizeof w->name_mask, st, 1);
        store_col_text(w->phone_last4, sizeof w->phone_last4, st, 2);
        store_col_text(w->tier, sizeof w->tier, st, 3);
        int len = sqlite3_column_bytes(st, 4);
        w->aum_enc_len = len > 0 && (size_t)len <= sizeof w->aum_enc ? (size_t)len : 0;
        if (w->aum_enc_len)
            memcpy(w->aum_enc, sqlite3_column_blob(st, 4), w->aum_enc_len);
        store_col_text(w->outcome, sizeof w->outcome, st, 5);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(a);
        *n = 0;
        return store_rc(rc);
    }
    *rows = a;
    return 0;
}

static const char SQL_INVITEE[] =
    "SELECT m.id, c.event_id, c.code, EXISTS (SELECT 1 FROM campaign_steps WHERE campaign_id = "
    "c.id AND channel = 'call' AND run_at <= ?3), m.phone_enc FROM campaigns c "
    "LEFT JOIN members m ON m.member_no = ?2 AND EXISTS (SELECT 1 FROM campaign_members cm "
    "WHERE cm.campaign_id = c.id AND cm.member_id = m.id) WHERE c.id = ?1";

int store_campaign_invitee(struct store *s, int64_t id, const char *member_no, int64_t now,
                           bool *campaign_found, struct campaign_invitee *out)
{
    memset(out, 0, sizeof *out);
    *campaign_found = false;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_INVITEE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, member_no, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *campaign_found = true;
        out->member_id = sqlite3_column_int64(st, 0);
        out->event_id = sqlite3_column_int64(st, 1);
        store_col_text(out->code, sizeof out->code, st, 2);
        out->calls_due = sqlite3_column_int(st, 3) != 0;
        int len = sqlite3_column_bytes(st, 4);
        out->phone_enc_len = len > 0 && (size_t)len <= sizeof out->phone_enc ? (size_t)len : 0;
        if (out->phone_enc_len)
            memcpy(out->phone_enc, sqlite3_column_blob(st, 4), out->phone_enc_len);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return out->member_id ? 0 : KIOSKD_ENOTFOUND;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

static const char SQL_CALL_INSERT[] =
    "INSERT INTO campaign_calls(campaign_id, member_id, outcome, note, called_at, staff_id, "
    "device) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM campaign_members "
    "WHERE campaign_id = ?1 AND member_id = ?2)";

static int call_run(struct store_tx *tx, struct store_job *job)
{
    struct store_campaign_call *j = (struct store_campaign_call *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CALL_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->campaign_id);
    sqlite3_bind_int64(st, 2, j->member_id);
    sqlite3_bind_text(st, 3, j->outcome, -1, SQLITE_STATIC);
    if (j->note[0])
        sqlite3_bind_text(st, 4, j->note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, tx->now_us / 1000000);
    sqlite3_bind_text(st, 6, j->by.staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, j->by.device, -1, SQLITE_STATIC);
    int rc = store_step_done(st);
    if (rc)
        return rc;
    if (sqlite3_changes(tx->c->db) == 0)
        return store_refuse(job, WHY_NOT_INVITED);
    char subject[64];
    snprintf(subject, sizeof subject, "campaign:%lld:m%lld", (long long)j->campaign_id,
             (long long)j->member_id);
    if ((rc = store_audit(tx, j->by.staff_id, j->by.device, "campaign_call", subject)) != 0)
        return rc;
    if (j->signup) { /* an appointment books the guest, in the same transaction */
        rc = j->signup->job.run(tx, &j->signup->job);
        if (rc == KIOSKD_EREFUSED)
            return store_refuse(job, j->signup->job.why);
    }
    return rc;
}

void store_campaign_call_init(struct store_campaign_call *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = call_run;
}

/* --- festival greetings --- */

/* ?1 now, ?2 today, ?3 the channel, ?4 due */
static const char SQL_FESTIVAL[] =
    "INSERT OR IGNORE INTO messages(uid, dedup_key, kind, channel, transactional, signup_id, "
    "event_id, member_id, maturity_id, person_hash, slot, due_at, next_at, created_at) "
    "SELECT lower(hex(randomblob(16))), 'festival:m' || m.id || ':' || "
    "lower(hex(substr(m.phone_hash, 1, 8))) || ':' || ?2, 'festival', ?3, 0, NULL, NULL, m.id, "
    "NULL, m.phone_hash, ?2, ?4, ?4, ?1 FROM members m WHERE m.opted_out = 0";

int campaign_festival_run(struct store_tx *tx, const char *person_channel, unsigned mask,
                          const char *today, int64_t due_at, int64_t *queued)
{
    if (!person_channel || campaign_festival_on(today, mask) < 0)
        return 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_FESTIVAL);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, tx->now_us / 1000000);
    sqlite3_bind_text(st, 2, today, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, person_channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, due_at);
    int rc = store_step_done(st);
    if (rc == 0)
        *queued += sqlite3_changes(tx->c->db);
    return rc;
}
