/*
 * Check-ins: by ticket, by phone, walk-ins, and undo. Every decision that
 * depends on current data (a second scan of the same ticket, the check-in
 * window, a place for a waitlisted guest admitted at the door) is taken here,
 * on the writer thread inside the job's savepoint, so racing tablets get one
 * answer each. A sign-up has at most one check-in in force (a partial unique
 * index makes that the database's rule as well).
 *
 * Counters on events change in the same savepoint as the rows they count
 * (see store/signups.c):
 *   checked_in = check-ins in force
 *   walk_ins   = check-ins in force of sign-ups whose source is walkin
 */
#include "store/checkins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/events.h"
#include "store/store_int.h"

static const char SQL_CHECKIN_IN_FORCE[] =
    "SELECT id, at_us, device FROM checkins WHERE signup_id = ? AND undone_us IS NULL";
static const char SQL_CHECKIN_INSERT[] =
    "INSERT INTO checkins(event_id, signup_id, at_us, staff_id, device, method) "
    "VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_CHECKIN_GET[] =
    "SELECT c.event_id, c.signup_id, c.undone_us, s.source FROM checkins c "
    "JOIN signups s ON s.id = c.signup_id WHERE c.id = ?";
static const char SQL_CHECKIN_UNDO[] =
    "UPDATE checkins SET undone_us = ?, undone_by = ? WHERE id = ? AND undone_us IS NULL";
int checkin_in_force(struct store_tx *tx, int64_t signup_id, struct checkin_in_force *out)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CHECKIN_IN_FORCE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, signup_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->at_us = sqlite3_column_int64(st, 1);
        store_col_text(out->device, sizeof out->device, st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_rc(rc);
}

/* Creates or revives the sign-up of a walk-in guest as source walkin. */
static int walkin_signup(struct store_tx *tx, struct store_checkin *j, struct found *f, bool revive)
{
    int64_t now = store_tx_now(tx) / 1000000;
    char member_no[33];
    int rc = member_no_of_phone(tx, j->who.phone_hash, member_no);
    if (rc)
        return rc;
    struct signup_row w = {
        .event_id = j->event_id,
        .who = &j->who,
        .member_no = member_no[0] ? member_no : NULL,
        .source = "walkin",
        .status = "confirmed",
        .consent_version = j->consent_version,
        .kid = j->kid,
        .now = now,
        .issued_at = revive && f->issued_at >= now ? f->issued_at + 1 : now,
    };
    rc = signup_write(tx, revive ? f->id : 0, &w, &f->id, f->short_code);
    if (rc)
        return rc;
    f->event_id = j->event_id;
    snprintf(f->status, sizeof f->status, "confirmed");
    snprintf(f->source, sizeof f->source, "walkin");
    snprintf(f->name_mask, sizeof f->name_mask, "%s", j->who.name_mask);
    j->walkin_created = true;
    return store_journal(tx, j->by.staff_id, j->by.device, "walkin_signup", "signup", f->id,
                         "signup", signup_outbox_data(&w, f->id, f->short_code));
}

/* Fills the job's member block from member_id (0: the guest is no member). */
static int checkin_member(struct store_tx *tx, struct store_checkin *j, int64_t member_id)
{
    if (!member_id)
        return 0;
    struct member_row m;
    int rc = member_row_by_id(tx, member_id, &m);
    if (rc)
        return rc;
    j->member = true;
    snprintf(j->member_no, sizeof j->member_no, "%s", m.member_no);
    snprintf(j->tier, sizeof j->tier, "%s", m.tier);
    snprintf(j->trial_tier, sizeof j->trial_tier, "%s", m.trial_tier);
    snprintf(j->trial_until, sizeof j->trial_until, "%s", m.trial_until);
    j->balance = m.balance;
    return 0;
}

static int checkin_run(struct store_tx *tx, struct store_job *job)
{
    struct store_checkin *j = (struct store_checkin *)job;
    struct found f;
    int rc;
    memset(&f, 0, sizeof f);
    if (j->method == CHECKIN_TICKET) {
        int64_t id = j->signup_id, ticket_event = j->ticket_event_id;
        if (j->by_digest) {
            rc = strcmp(j->ticket_kid, j->kid) != 0
                     ? KIOSKD_ENOTFOUND
                     : signup_digest_check(tx, j->signup_id, j->ticket_event_id, j->issued_at,
                                           j->kid, j->digest);
            if (rc == KIOSKD_EBADSIG)
                return store_refuse(job, WHY_BAD_TICKET);
            if (rc == KIOSKD_ENOTFOUND) /* before 0018, a revived sign-up, not ours... */
                return store_refuse(job, WHY_TICKET_UNVERIFIED);
            if (rc)
                return rc;
        }
        if (j->ticket_kid[0] && strcmp(j->ticket_kid, j->kid) != 0) {
            rc = signup_of_ticket_elsewhere(tx, j->ticket_kid, j->signup_id, j->issued_at, &id,
                                            &ticket_event);
            if (rc == KIOSKD_EREFUSED)
                return store_refuse(job, WHY_TICKET_CANCELLED);
            if (rc)
                return rc;
        }
        rc = id ? signup_find_by_id(tx, id, &f) : KIOSKD_ENOTFOUND;
        if (rc && rc != KIOSKD_ENOTFOUND)
            return rc;
        enum store_why why = ticket_rule(&f, NULL, ticket_event, j->issued_at);
        if (why != WHY_NONE)
            return store_refuse(job, why);
        if (j->event_id && j->event_id != f.event_id) {
            j->out_event_id = f.event_id;
            struct store_event other;
            /* unread (gone, damaged): refused all the same, without the details */
            if (store_event_read(tx->c, f.event_id, &other) == 0 && !other.damaged) {
                snprintf(j->out_title, sizeof j->out_title, "%s", other.title);
                j->out_starts_at = other.starts_at;
            }
            return store_refuse(job, WHY_WRONG_EVENT);
        }
    } else {
        rc = j->method == CHECKIN_CODE
                 ? signup_find_by_code(tx, j->event_id, j->short_code, &f)
                 : signup_find_by_phone(tx, j->event_id, j->who.phone_hash, &f);
        if (rc && rc != KIOSKD_ENOTFOUND)
            return rc;
        if (j->method != CHECKIN_WALKIN) {
            if (rc)
                return store_refuse(job, j->method == CHECKIN_CODE ? WHY_NO_CODE : WHY_NO_SIGNUP);
            if (strcmp(f.status, "cancelled") == 0)
                return store_refuse(job, WHY_SIGNUP_CANCELLED);
        }
    }
    int64_t event_id = j->method == CHECKIN_TICKET ? f.event_id : j->event_id;
    j->out_event_id = event_id;
    struct store_event ev;
    if ((rc = store_event_read(tx->c, event_id, &ev)) != 0)
        return rc == KIOSKD_ENOTFOUND ? store_refuse(job, WHY_EVENT_NOT_FOUND) : rc;
    if (strcmp(ev.status, "cancelled") == 0)
        return store_refuse(job, WHY_EVENT_CANCELLED);
    if (ev.branch[0])
        return store_refuse(job, WHY_EVENT_ELSEWHERE);
    int64_t now_us = store_tx_now(tx), now = now_us / 1000000;
    if (now < ev.starts_at - j->opens_before) {
        j->out_starts_at = ev.starts_at;
        return store_refuse(job, WHY_CHECKIN_NOT_OPEN);
    }
    if (now >= ev.ends_at)
        return store_refuse(job, WHY_CHECKIN_CLOSED);
    if (j->method == CHECKIN_WALKIN) {
        if (!f.id || strcmp(f.status, "cancelled") == 0) {
            if ((rc = walkin_signup(tx, j, &f, f.id != 0)) != 0)
                return rc;
        } else if (strcmp(f.status, "waitlisted") == 0) {
            /* staff admit a waitlisted guest at the door */
            if ((rc = signup_set_status(tx, f.id, "confirmed", 0)) != 0 ||
                (rc = event_counts(tx, event_id, 1, -1, 0, 0)) != 0)
                return rc;
            snprintf(f.status, sizeof f.status, "confirmed");
        }
    } else if (strcmp(f.status, "waitlisted") == 0) {
        return store_refuse(job, WHY_WAITLISTED);
    }
    j->out_signup_id = f.id;
    snprintf(j->name_mask, sizeof j->name_mask, "%s", f.name_mask);

    struct checkin_in_force first;
    if ((rc = checkin_in_force(tx, f.id, &first)) < 0)
        return rc;
    if (rc == 1) {
        j->already = true;
        j->checkin_id = first.id;
        j->at_us = first.at_us;
        snprintf(j->first_device, sizeof j->first_device, "%s", first.device);
        int64_t member_id;
        if ((rc = ledger_member_of_signup(tx, f.id, &member_id)) != 0)
            return rc;
        return checkin_member(tx, j, member_id); /* a rescan shows the guest's points too */
    }

    static const char *const methods[] = {"ticket", "phone", "walkin", "code"};
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CHECKIN_INSERT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    sqlite3_bind_int64(st, 2, f.id);
    sqlite3_bind_int64(st, 3, now_us);
    sqlite3_bind_text(st, 4, j->by.staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, j->by.device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, methods[j->method], -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->checkin_id = sqlite3_last_insert_rowid(tx->c->db);
    j->at_us = now_us;
    bool walkin = strcmp(f.source, "walkin") == 0;
    if ((rc = event_counts(tx, event_id, 0, 0, 1, walkin)) != 0)
        return rc;
    struct ledger_checkin_earned earned;
    if ((rc = ledger_checkin_earn(tx, f.id, &j->rules, &j->by, &earned)) != 0)
        return rc;
    if ((rc = checkin_member(tx, j, earned.member_id)) != 0)
        return rc;
    j->earned = earned.checkin_points;
    j->referral_earned = earned.referral_points;
    json_t *data =
        json_pack("{s:I, s:I, s:I, s:I, s:s, s:s}", "checkin_id", (json_int_t)j->checkin_id,
                  "signup_id", (json_int_t)f.id, "event_id", (json_int_t)event_id, "at_us",
                  (json_int_t)now_us, "method", methods[j->method], "staff_id", j->by.staff_id);
    return store_journal(tx, j->by.staff_id, j->by.device,
                         j->method == CHECKIN_WALKIN ? "walkin" : "checkin", "checkin",
                         j->checkin_id, "checkin", data);
}

void store_checkin_init(struct store_checkin *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = checkin_run;
}

static int checkin_undo_run(struct store_tx *tx, struct store_job *job)
{
    struct store_checkin_undo *j = (struct store_checkin_undo *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CHECKIN_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->checkin_id);
    int rc = sqlite3_step(st);
    bool undone = false;
    char source[8] = "";
    if (rc == SQLITE_ROW) {
        j->out_event_id = sqlite3_column_int64(st, 0);
        j->out_signup_id = sqlite3_column_int64(st, 1);
        undone = sqlite3_column_type(st, 2) != SQLITE_NULL;
        store_col_text(source, sizeof source, st, 3);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_refuse(job, WHY_CHECKIN_NOT_FOUND);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if (undone)
        return store_refuse(job, WHY_ALREADY_UNDONE);
    st = conn_stmt(tx->c, SQL_CHECKIN_UNDO);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, store_tx_now(tx));
    sqlite3_bind_text(st, 2, j->by.staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, j->checkin_id);
    if ((rc = store_step_done(st)) != 0 ||
        (rc = event_counts(tx, j->out_event_id, 0, 0, -1, -(strcmp(source, "walkin") == 0))) != 0)
        return rc;
    if ((rc = ledger_checkin_reverse(tx, j->out_signup_id, &j->by)) != 0)
        return rc == 1 ? store_refuse(job, WHY_POINTS_SPENT) : rc;
    json_t *data =
        json_pack("{s:I, s:I, s:I}", "checkin_id", (json_int_t)j->checkin_id, "signup_id",
                  (json_int_t)j->out_signup_id, "event_id", (json_int_t)j->out_event_id);
    return store_journal(tx, j->by.staff_id, j->by.device, "checkin_undo", "checkin", j->checkin_id,
                         "checkin_undone", data);
}

void store_checkin_undo_init(struct store_checkin_undo *j)
{
    memset(&j->job, 0, sizeof j->job);
    j->job.run = checkin_undo_run;
}
