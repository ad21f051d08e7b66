/*
 * The message queue's jobs and reads (store/messages.h; the life of a
 * message is drawn at the top of migration 0011).
 */
#include "store/messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/msgkind.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "store/campaigns.h"
#include "store/events.h"
#include "store/store_int.h"

#define DAY 86400
#define CHINA TIME_CHINA_OFFSET
#define CLAIM_MAX 256

/* --- the scheduler --- */

#define INSERT_MSG                                                                                 \
    "INSERT OR IGNORE INTO messages(uid, dedup_key, kind, channel, transactional, signup_id, "     \
    "event_id, member_id, maturity_id, person_hash, slot, due_at, next_at, created_at) "
#define UID "lower(hex(randomblob(16)))"
#define HEX8(h) "lower(hex(substr(" h ", 1, 8)))"
/* ?2 the channel for people, ?3 whether this kind may go by WeChat template message */
#define CHANNEL(member)                                                                            \
    "CASE WHEN ?3 AND " member " IS NOT NULL AND EXISTS (SELECT 1 FROM bot_bindings b WHERE "      \
    "b.member_id = " member " AND b.openid_enc IS NOT NULL) THEN 'wechat' ELSE ?2 END"

static const char SQL_RECOVER[] =
    "UPDATE messages SET status = 'queued', next_at = ?1 WHERE status = 'sending'";
/* held chat replies (store_msg_chat_reply): whoever would have settled them is gone */
static const char SQL_RECOVER_HELD[] = "UPDATE messages SET next_at = ?1 WHERE status = 'queued' "
                                       "AND kind = 'chat_reply' AND next_at > ?1";

/* The *_NEW forms look at the sign-ups after ?7 only (store_msg_schedule.signups_only). */
#define SIGNUPS_NEW " AND s.id > ?7"
/* A sweep reads every sign-up of its window (the day's, an event's) at each full run: the
 * de-duplication key, looked up first in its unique index, passes over those whose message is
 * queued already before their member, channel and uid are made (0.1 s instead of 0.39 s for the
 * confirmations of 50,000 sign-ups). A message is still queued once: the key stays unique. */
#define NOT_QUEUED(key) " AND NOT EXISTS (SELECT 1 FROM messages g WHERE g.dedup_key = " key ")"
#define KEY_CONFIRMATION "'confirmation:s' || s.id || ':' || " HEX8("s.phone_hash") " || ':0'"
/* ?6 the kind; at the slot */
#define KEY_SIGNUP(at) "?6 || ':s' || s.id || ':' || " HEX8("s.phone_hash") " || ':' || " at
/* created: the column as the condition names it (see SQL_SCHED_CONFIRM_NEW) */
#define SCHED_CONFIRMATION(created)                                                                \
    INSERT_MSG "SELECT " UID ", " KEY_CONFIRMATION ", 'confirmation', " CHANNEL(                   \
        "m.id") ", 1, "                                                                            \
                "s.id, s.event_id, m.id, NULL, s.phone_hash, '0', s.created_at, s.created_at, ?1 " \
                "FROM signups s JOIN events e ON e.id = s.event_id "                               \
                "LEFT JOIN members m ON m.member_no = s.member_no "                                \
                "WHERE " created " > ?1 - 86400 AND " created " <= ?1 + 60 "                       \
                "AND s.status IN ('confirmed', 'waitlisted') AND s.source <> 'walkin' "            \
                "AND e.ends_at > ?1" NOT_QUEUED(KEY_CONFIRMATION)
static const char SQL_SCHED_CONFIRMATION[] = SCHED_CONFIRMATION("s.created_at");
/* the unary + keeps SQLite on the rowid range instead of signups_created,
 * which holds the whole day */
static const char SQL_SCHED_CONFIRM_NEW[] = SCHED_CONFIRMATION("+s.created_at") SIGNUPS_NEW;
static const char SQL_SIGNUPS_MAX[] = "SELECT coalesce(max(id), 0) FROM signups";

/* the day before and two hours before: ?4 the lead, ?5 the earliest start still worth it */
#define SCHED_BEFORE                                                                               \
    INSERT_MSG "SELECT " UID ", " KEY_SIGNUP("e.starts_at") ", ?6, " CHANNEL(                      \
        "m.id") ", 0, s.id, "                                                                      \
                "e.id, m.id, NULL, s.phone_hash, e.starts_at, e.starts_at - ?4, e.starts_at - "    \
                "?4, ?1 "                                                                          \
                "FROM events e JOIN signups s ON s.event_id = e.id AND s.status = 'confirmed' "    \
                "LEFT JOIN members m ON m.member_no = s.member_no "                                \
                "WHERE e.status = 'open' AND e.starts_at > ?1 + ?5 AND e.starts_at <= ?1 + "       \
                "?4" NOT_QUEUED(KEY_SIGNUP("e.starts_at"))
static const char SQL_SCHED_BEFORE[] = SCHED_BEFORE;
static const char SQL_SCHED_BEFORE_NEW[] = SCHED_BEFORE SIGNUPS_NEW;

/* after the event (three days of catching up): ?4 1 for those checked in, 0 for no-shows */
static const char SQL_SCHED_AFTER[] =
    INSERT_MSG "SELECT " UID ", " KEY_SIGNUP("e.ends_at") ", ?6, " CHANNEL(
        "m.id") ", 0, s.id, "
                "e.id, m.id, NULL, s.phone_hash, e.ends_at, e.ends_at, e.ends_at, ?1 "
                "FROM events e JOIN signups s ON s.event_id = e.id "
                "LEFT JOIN members m ON m.member_no = s.member_no "
                "WHERE e.status = 'open' AND e.ends_at <= ?1 "
                "AND e.ends_at > ?1 - 259200 AND s.status <> 'cancelled' "
                "AND (s.status = 'confirmed' OR ?4 = 1) "
                "AND EXISTS (SELECT 1 FROM checkins c WHERE c.signup_id = s.id "
                "AND c.undone_us IS NULL) = ?4" NOT_QUEUED(KEY_SIGNUP("e.ends_at"));

/* ?4 MM-DD today, ?5 when (10:00 China), ?6 the year, ?7 also 02-29 (28 Feb of a common year);
 * like festival greetings and campaign invitations, none is queued for an opted-out member.
 * The IN list lets members_birthday_md find the day's members (an OR scanned all of them, a
 * second of the writer's time at each start with a million members). */
static const char SQL_SCHED_BIRTHDAY[] = INSERT_MSG
    "SELECT " UID
    ", 'birthday:m' || m.id || ':' || " HEX8("m.phone_hash") " || ':' || ?6, 'birthday', " CHANNEL(
        "m.id") ", 0, NULL, NULL, m.id, NULL, m.phone_hash, ?6, ?5, ?5, ?1 FROM members m "
                "WHERE m.opted_out = 0 AND substr(m.birthday, 6) IN (?4, "
                "CASE WHEN ?7 THEN '02-29' END)";

/* ?4 today (China), ?5 days ahead; due at 10:00 China ?5 days before */
static const char SQL_SCHED_MATURITY[] =
    INSERT_MSG "SELECT " UID ", 'maturity:x' || x.id || ':' || " HEX8(
        "m.phone_hash") " || ':' || x.matures_on, "
                        "'maturity', " CHANNEL(
                            "m.id") ", 0, NULL, NULL, m.id, "
                                    "x.id, m.phone_hash, "
                                    "x.matures_on, "
                                    "unixepoch(x.matures_on) "
                                    "+ 7200 - ?5 * 86400, "
                                    "unixepoch(x.matures_on) "
                                    "+ 7200 - ?5 * 86400, ?1 "
                                    "FROM maturities x JOIN "
                                    "members m ON m.id = "
                                    "x.member_id "
                                    "WHERE m.opted_out = 0 AND x.matures_on >= ?4 "
                                    "AND x.matures_on <= "
                                    "date(?4, '+' || ?5 || ' "
                                    "days')";

/* points lines after line ?4 (not expiry), one message per member and China day, at 19:00 */
static const char SQL_SCHED_POINTS[] = INSERT_MSG
    "SELECT " UID
    ", 'points:m' || m.id || ':' || " HEX8("m.phone_hash") " || ':' || d.day, 'points', " CHANNEL(
        "m.id") ", 0, NULL, NULL, m.id, NULL, m.phone_hash, d.day, unixepoch(d.day) + 39600, "
                "unixepoch(d.day) + 39600, ?1 FROM (SELECT member_id, "
                "date(at_us / 1000000 + 28800, 'unixepoch') AS day FROM points_lines "
                "WHERE id > ?4 AND reason <> 'expiry' GROUP BY member_id, day) d "
                "JOIN members m ON m.id = d.member_id";
static const char SQL_POINTS_LAST[] = "SELECT coalesce(max(id), 0) FROM points_lines";

/* one summary per event of this branch for the staff's group, once it has ended (one day of
 * catching up) */
static const char SQL_SCHED_SUMMARY[] =
    INSERT_MSG "SELECT " UID ", 'staff_summary:e' || e.id || ':staff:' || e.ends_at, "
               "'staff_summary', ?2, 0, NULL, e.id, NULL, NULL, NULL, e.ends_at, e.ends_at, "
               "e.ends_at, ?1 FROM events e WHERE e.status = 'open' AND e.ends_at <= ?1 "
               "AND e.ends_at > ?1 - 86400 AND e.branch = ''";

static const char SQL_STATE_GET[] =
    "SELECT value, expires_at, updated_at FROM channel_state WHERE name = ?1";
static const char SQL_STATE_PUT[] =
    "INSERT INTO channel_state(name, value, expires_at, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(name) DO UPDATE SET value = ?2, expires_at = ?3, updated_at = ?4";

static int state_put(struct store_tx *tx, const char *name, const char *value, int64_t expires)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_STATE_PUT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, expires);
    sqlite3_bind_int64(st, 4, tx->now_us / 1000000);
    return store_step_done(st);
}

/* Prepares one scheduling statement with the common parameters. */
static int sched(struct store_tx *tx, struct store_msg_schedule *j, const char *sql,
                 enum msg_kind kind, const char *channel, sqlite3_stmt **out)
{
    sqlite3_stmt *st = conn_stmt(tx->c, sql);
    if (!st)
        return KIOSKD_EIO;
    if (j->signups_only)
        sqlite3_bind_int64(st, 7, j->signups_after);
    sqlite3_bind_int64(st, 1, tx->now_us / 1000000);
    sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, j->wechat && (j->wechat_kinds & (1u << kind)) ? 1 : 0);
    *out = st;
    return 0;
}

static int sched_step(struct store_tx *tx, struct store_msg_schedule *j, sqlite3_stmt *st)
{
    int rc = store_step_done(st);
    if (rc == 0)
        j->queued += sqlite3_changes(tx->c->db);
    return rc;
}

static int schedule_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_schedule *j = (struct store_msg_schedule *)job;
    int64_t now = tx->now_us / 1000000;
    sqlite3_stmt *st;
    int rc;
    if (j->recover) {
        if (!(st = conn_stmt(tx->c, SQL_RECOVER)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, now);
        if ((rc = store_step_done(st)) != 0)
            return rc;
        j->recovered = sqlite3_changes(tx->c->db);
        if (!(st = conn_stmt(tx->c, SQL_RECOVER_HELD)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, now);
        if ((rc = store_step_done(st)) != 0)
            return rc;
        j->recovered += sqlite3_changes(tx->c->db);
    }
    const char *pc = j->person_channel;
    if (pc) {
        if (!(st = conn_stmt(tx->c, SQL_SIGNUPS_MAX)))
            return KIOSKD_EIO;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            j->signups_max = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return store_rc(rc);
        bool fresh = j->signups_only;
        if ((rc = sched(tx, j, fresh ? SQL_SCHED_CONFIRM_NEW : SQL_SCHED_CONFIRMATION,
                        MSG_CONFIRMATION, pc, &st)) ||
            (rc = sched_step(tx, j, st)))
            return rc;
        static const struct {
            enum msg_kind kind;
            int64_t lead, earliest;
        } before[] = {{MSG_DAY_BEFORE, DAY, 3 * 3600}, {MSG_TWO_HOURS, 2 * 3600, 0}};
        for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
            if ((rc = sched(tx, j, fresh ? SQL_SCHED_BEFORE_NEW : SQL_SCHED_BEFORE, before[i].kind,
                            pc, &st)))
                return rc;
            sqlite3_bind_int64(st, 4, before[i].lead);
            sqlite3_bind_int64(st, 5, before[i].earliest);
            sqlite3_bind_text(st, 6, msg_kind_name(before[i].kind), -1, SQLITE_STATIC);
            if ((rc = sched_step(tx, j, st)))
                return rc;
        }
        /* a sign-up is taken before its event ends: the full run thanks it */
        if (fresh)
            return 0;
        for (int came = 0; came <= 1; came++) {
            enum msg_kind k = came ? MSG_THANK_YOU : MSG_NO_SHOW;
            if ((rc = sched(tx, j, SQL_SCHED_AFTER, k, pc, &st)))
                return rc;
            sqlite3_bind_int(st, 4, came);
            sqlite3_bind_text(st, 6, msg_kind_name(k), -1, SQLITE_STATIC);
            if ((rc = sched_step(tx, j, st)))
                return rc;
        }
        char today[11], year[5], mmdd[6];
        time_format_china_date(now, today, sizeof today);
        memcpy(year, today, 4);
        year[4] = '\0';
        memcpy(mmdd, today + 5, 5);
        mmdd[5] = '\0';
        int y = (int)strtol(year, NULL, 10);
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int64_t midnight = (now + CHINA) / DAY * DAY - CHINA;
        if ((rc = sched(tx, j, SQL_SCHED_BIRTHDAY, MSG_BIRTHDAY, pc, &st)))
            return rc;
        sqlite3_bind_text(st, 4, mmdd, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, midnight + 10 * 3600);
        sqlite3_bind_text(st, 6, year, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, !leap && strcmp(mmdd, "02-28") == 0);
        if ((rc = sched_step(tx, j, st)))
            return rc;
        if ((rc = sched(tx, j, SQL_SCHED_MATURITY, MSG_MATURITY, pc, &st)))
            return rc;
        sqlite3_bind_text(st, 4, today, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, j->maturity_days);
        if ((rc = sched_step(tx, j, st)))
            return rc;
        /* points: lines after the last one seen (its id kept in channel_state) */
        char seen[32] = "0";
        if (!(st = conn_stmt(tx->c, SQL_STATE_GET)))
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, "scheduler.points_line", -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            store_col_text(seen, sizeof seen, st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_rc(rc);
        if ((rc = sched(tx, j, SQL_SCHED_POINTS, MSG_POINTS, pc, &st)))
            return rc;
        sqlite3_bind_int64(st, 4, strtoll(seen, NULL, 10));
        if ((rc = sched_step(tx, j, st)))
            return rc;
        if (!(st = conn_stmt(tx->c, SQL_POINTS_LAST)))
            return KIOSKD_EIO;
        int64_t last = 0;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            last = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return store_rc(rc);
        snprintf(seen, sizeof seen, "%lld", (long long)last);
        if ((rc = state_put(tx, "scheduler.points_line", seen, 0)))
            return rc;
        /* campaigns' steps whose time has come (store/campaigns.h) */
        bool wx = j->wechat && (j->wechat_kinds & (1u << MSG_INVITATION));
        if ((rc = campaign_steps_run(tx, pc, wx, &j->queued, &j->more)) ||
            (rc = campaign_festival_run(tx, pc, j->festivals, today, midnight + 10 * 3600,
                                        &j->queued)))
            return rc;
    }
    if (j->staff_channel) {
        if ((rc = sched(tx, j, SQL_SCHED_SUMMARY, MSG_STAFF_SUMMARY, j->staff_channel, &st)) ||
            (rc = sched_step(tx, j, st)))
            return rc;
    }
    return 0;
}

void store_msg_schedule_init(struct store_msg_schedule *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = schedule_run;
    j->maturity_days = 7;
}

/* --- the claim --- */

/* messages_due named: without statistics SQLite takes messages_status_kind
 * (status = ?) and sorts every queued message, each claim (0.2 s at 66,000) */
/* In quiet hours (?3 = 1) only transactional messages: the others would only be put off
 * again, and a confirmation would wait behind every reminder due (QUIET_DEFER moves them). */
static const char SQL_DUE[] =
    "SELECT id FROM messages INDEXED BY messages_due WHERE status = 'queued' AND next_at <= ?1 "
    "AND (?3 = 0 OR transactional = 1) ORDER BY next_at, id LIMIT ?2";
/* In quiet hours, up to ?3 of the non-transactional messages due wait for their end (?2) in
 * one statement, so the due query's head does not fill with them. */
static const char SQL_QUIET_DEFER[] =
    "UPDATE messages SET next_at = ?2 WHERE id IN (SELECT id FROM messages INDEXED BY "
    "messages_due WHERE status = 'queued' AND next_at <= ?1 AND transactional = 0 LIMIT ?3)";
#define QUIET_DEFER_MAX 4096
static const char SQL_MSG_GET[] =
    "SELECT uid, kind, channel, transactional, signup_id, event_id, member_id, maturity_id, "
    "person_hash, attempts, slot, openid_enc, body FROM messages WHERE id = ?1";
static const char SQL_OPTED_OUT[] =
    "SELECT 1 FROM members WHERE opted_out = 1 AND (id = ?1 OR phone_hash = ?2) LIMIT 1";
static const char SQL_CAP_COUNT[] =
    "SELECT count(*) FROM messages WHERE person_hash = ?1 AND transactional = 0 "
    "AND status IN ('sent', 'sending') AND claimed_at >= ?2";
static const char SQL_WECOM_COUNT[] =
    "SELECT count(*), coalesce(min(claimed_at), 0) FROM messages WHERE channel = 'wecom' "
    "AND claimed_at > ?1 - 60";
static const char SQL_RECHANNEL[] = "UPDATE messages SET channel = ?2 WHERE id = ?1";
static const char SQL_DEFER[] = "UPDATE messages SET next_at = ?2 WHERE id = ?1";
static const char SQL_SKIP[] =
    "UPDATE messages SET status = 'skipped', last_error = ?2 WHERE id = ?1 AND status = 'queued'";
static const char SQL_TAKE[] =
    "UPDATE messages SET status = 'sending', attempts = attempts + 1, claimed_at = ?2 "
    "WHERE id = ?1 AND status = 'queued'";
static const char SQL_SIGNUP_GET[] =
    "SELECT name_mask, phone_enc, short_code, status, issued_at, kid, event_id, id "
    "FROM signups WHERE id = ?1";
static const char SQL_MEMBER_GET[] =
    "SELECT name_mask, phone_enc, tier, balance FROM members WHERE id = ?1";
static const char SQL_MATURITY_GET[] =
    "SELECT product, amount, matures_on FROM maturities WHERE id = ?1";
static const char SQL_POINTS_DAY[] =
    "SELECT coalesce(sum(delta), 0) FROM points_lines WHERE member_id = ?1 AND at_us >= ?2 "
    "AND at_us < ?3 AND reason <> 'expiry'";
static const char SQL_POINTS_SIGNUP[] =
    "SELECT coalesce(sum(delta), 0) FROM points_lines WHERE signup_id = ?1 AND reason = 'checkin'";
static const char SQL_OPENID_GET[] =
    "SELECT openid_enc FROM bot_bindings WHERE member_id = ?1 AND openid_enc IS NOT NULL "
    "ORDER BY bound_at DESC LIMIT 1";
static const char SQL_WAIT_POSITION[] =
    "SELECT count(*) FROM signups WHERE event_id = ?1 AND status = 'waitlisted' "
    "AND (issued_at < ?2 OR (issued_at = ?2 AND id <= ?3))";
static const char SQL_NO_SHOWS[] =
    "SELECT count(*) FROM signups s WHERE s.event_id = ?1 AND s.status = 'confirmed' "
    "AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.signup_id = s.id AND c.undone_us IS NULL)";

static int exec2(struct store_tx *tx, const char *sql, int64_t id, int64_t v)
{
    sqlite3_stmt *st = conn_stmt(tx->c, sql);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, v);
    return store_step_done(st);
}

static int skip(struct store_tx *tx, struct store_msg_claim *j, int64_t id, const char *why)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SKIP);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
    j->skipped++;
    return store_step_done(st);
}

static int64_t count1(struct store_tx *tx, const char *sql, const void *blob, int64_t a, int64_t b,
                      int64_t c, int *rc)
{
    sqlite3_stmt *st = conn_stmt(tx->c, sql);
    if (!st) {
        *rc = KIOSKD_EIO;
        return 0;
    }
    if (blob)
        sqlite3_bind_blob(st, 1, blob, STORE_HASH_LEN, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    if (sqlite3_bind_parameter_count(st) >= 3)
        sqlite3_bind_int64(st, 3, c);
    int64_t n = 0;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    *rc = s == SQLITE_ROW ? 0 : store_rc(s);
    return n;
}

/* The next time the China clock shows minute m (after now). */
static int64_t next_minute(int64_t now, int m)
{
    int64_t midnight = (now + CHINA) / DAY * DAY - CHINA;
    int64_t t = midnight + (int64_t)m * 60;
    return t > now ? t : t + DAY;
}

static bool in_quiet(int64_t now, int from, int to)
{
    if (from == to)
        return false;
    int m = (int)((now + CHINA) % DAY / 60);
    return from < to ? m >= from && m < to : m >= from || m < to;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v));
}

static void col_blob(sqlite3_stmt *st, int col, unsigned char *out, size_t cap, size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *len = b && n <= cap ? n : 0;
    if (*len)
        memcpy(out, b, n);
}

/* Fills m's template variables and recipient from the rows it names. Returns
 * 0, 1 when it should be skipped (reason in *why), or an error. */
static int fill(struct store_tx *tx, struct store_msg_out *m, int64_t signup_id, int64_t event_id,
                int64_t member_id, int64_t maturity_id, const char *slot, const char **why)
{
    int64_t now = tx->now_us / 1000000;
    json_t *d = m->data;
    char buf[64];
    int rc = 0;
    sqlite3_stmt *st;
    if (signup_id) {
        if (!(st = conn_stmt(tx->c, SQL_SIGNUP_GET)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, signup_id);
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
            sqlite3_reset(st);
            return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
        }
        char status[12], mask[64], code[8];
        store_col_text(mask, sizeof mask, st, 0);
        col_blob(st, 1, m->phone_enc, sizeof m->phone_enc, &m->phone_enc_len);
        store_col_text(code, sizeof code, st, 2);
        store_col_text(status, sizeof status, st, 3);
        m->ticket_issued = sqlite3_column_int64(st, 4);
        store_col_text(m->kid, sizeof m->kid, st, 5);
        m->ticket_event = sqlite3_column_int64(st, 6);
        m->ticket_signup = sqlite3_column_int64(st, 7);
        sqlite3_reset(st);
        set_str(d, "name", mask);
        set_str(d, "short_code", code);
        if (strcmp(status, "cancelled") == 0) {
            *why = "cancelled";
            return 1;
        }
        if (strcmp(status, "waitlisted") == 0) {
            json_object_set_new(d, "waitlisted", json_true());
            int64_t pos = count1(tx, SQL_WAIT_POSITION, NULL, m->ticket_event, m->ticket_issued,
                                 signup_id, &rc);
            if (rc)
                return rc;
            json_object_set_new(d, "position", json_integer(pos));
            if (m->kind != MSG_CONFIRMATION)
                m->ticket_signup = 0;
        }
        if (m->kind == MSG_THANK_YOU) {
            int64_t p = count1(tx, SQL_POINTS_SIGNUP, NULL, signup_id, 0, 0, &rc);
            if (rc)
                return rc;
            json_object_set_new(d, "points", json_integer(p));
        }
        if (m->kind == MSG_THANK_YOU || m->kind == MSG_NO_SHOW)
            m->ticket_signup = 0;
    }
    if (event_id) {
        struct store_event ev;
        if ((rc = store_event_read(tx->c, event_id, &ev)) != 0)
            return rc;
        set_str(d, "title", ev.title);
        set_str(d, "venue", ev.venue);
        set_str(d, "time", time_format_china_short(ev.starts_at, buf, sizeof buf));
        set_str(d, "date", time_format_china_date(ev.starts_at, buf, sizeof buf));
        if (strcmp(ev.status, "cancelled") == 0 && m->kind != MSG_STAFF_SUMMARY) {
            *why = "event_cancelled";
            return 1;
        }
        if ((m->kind == MSG_DAY_BEFORE || m->kind == MSG_TWO_HOURS) && ev.starts_at <= now) {
            *why = "too_late";
            return 1;
        }
        if (m->kind == MSG_STAFF_SUMMARY) {
            int64_t no_shows = count1(tx, SQL_NO_SHOWS, NULL, event_id, 0, 0, &rc);
            if (rc)
                return rc;
            json_object_set_new(d, "signed_up", json_integer(ev.confirmed));
            json_object_set_new(d, "checked_in", json_integer(ev.checked_in));
            json_object_set_new(d, "walk_ins", json_integer(ev.walk_ins));
            json_object_set_new(d, "no_shows", json_integer(no_shows));
        }
    }
    if (member_id) {
        if (!(st = conn_stmt(tx->c, SQL_MEMBER_GET)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, member_id);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char mask[64], tier[16];
            store_col_text(mask, sizeof mask, st, 0);
            if (!signup_id) {
                set_str(d, "name", mask);
                col_blob(st, 1, m->phone_enc, sizeof m->phone_enc, &m->phone_enc_len);
            }
            store_col_text(tier, sizeof tier, st, 2);
            set_str(d, "tier", tier);
            if (m->kind != MSG_THANK_YOU)
                json_object_set_new(d, "points", json_integer(sqlite3_column_int64(st, 3)));
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_rc(rc);
        if (m->channel == MSG_WECHAT) {
            if (!(st = conn_stmt(tx->c, SQL_OPENID_GET)))
                return KIOSKD_EIO;
            sqlite3_bind_int64(st, 1, member_id);
            if ((rc = sqlite3_step(st)) == SQLITE_ROW)
                col_blob(st, 0, m->openid_enc, sizeof m->openid_enc, &m->openid_enc_len);
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_rc(rc);
        }
    }
    if (maturity_id) {
        if (!(st = conn_stmt(tx->c, SQL_MATURITY_GET)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, maturity_id);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char product[128], on[16];
            store_col_text(product, sizeof product, st, 0);
            int64_t fen = sqlite3_column_int64(st, 1);
            store_col_text(on, sizeof on, st, 2);
            set_str(d, "product", product);
            snprintf(buf, sizeof buf, "%lld.%02lld", (long long)(fen / 100),
                     (long long)(fen % 100));
            set_str(d, "amount", buf);
            set_str(d, "date", on);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_rc(rc);
    }
    if (m->kind == MSG_INVITATION && member_id) {
        if ((rc = campaign_invitation_vars(tx, slot, member_id, d, why)) != 0)
            return rc;
    }
    if (m->kind == MSG_FESTIVAL) {
        const char *name = campaign_festival_name(campaign_festival_on(slot, ~0u));
        set_str(d, "festival", name ? name : "节日");
        set_str(d, "date", slot);
    }
    if (m->kind == MSG_POINTS && member_id) {
        int64_t day0;
        if (time_parse_rfc3339(slot, &day0) != 0) {
            char t[40];
            snprintf(t, sizeof t, "%.10sT00:00:00+08:00", slot);
            if (time_parse_rfc3339(t, &day0) != 0)
                day0 = 0;
        }
        int64_t change = count1(tx, SQL_POINTS_DAY, NULL, member_id, day0 * 1000000,
                                (day0 + DAY) * 1000000, &rc);
        if (rc)
            return rc;
        snprintf(buf, sizeof buf, "%+lld", (long long)change);
        set_str(d, "change", buf);
        set_str(d, "date", slot);
        if (change == 0) {
            *why = "no_change";
            return 1;
        }
    }
    if (m->channel != MSG_WECOM && m->channel != MSG_LOG && !m->phone_enc_len &&
        !m->openid_enc_len) {
        *why = "no_recipient";
        return 1;
    }
    return 0;
}

/* Decides one due message; adds it to j->out when it is to be sent now. */
static int claim_one(struct store_tx *tx, struct store_msg_claim *j, int64_t id)
{
    int64_t now = tx->now_us / 1000000;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_MSG_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_rc(rc);
    }
    struct store_msg_out *m = &j->out[j->n];
    memset(m, 0, sizeof *m);
    m->id = id;
    store_col_text(m->uid, sizeof m->uid, st, 0);
    const char *k = (const char *)sqlite3_column_text(st, 1);
    const char *c = (const char *)sqlite3_column_text(st, 2);
    m->kind = k ? msg_kind_from(k, strlen(k)) : -1;
    m->channel = c ? msg_channel_from(c, strlen(c)) : -1;
    m->transactional = sqlite3_column_int(st, 3) != 0;
    int64_t signup_id = sqlite3_column_int64(st, 4), event_id = sqlite3_column_int64(st, 5);
    int64_t member_id = sqlite3_column_int64(st, 6), maturity_id = sqlite3_column_int64(st, 7);
    unsigned char person[STORE_HASH_LEN];
    bool has_person = sqlite3_column_bytes(st, 8) == STORE_HASH_LEN;
    if (has_person)
        memcpy(person, sqlite3_column_blob(st, 8), STORE_HASH_LEN);
    m->attempts = sqlite3_column_int64(st, 9) + 1;
    char slot[32];
    store_col_text(slot, sizeof slot, st, 10);
    char body[STORE_CHAT_REPLY_MAX + 1] = "";
    if (m->kind == MSG_CHAT_REPLY) { /* its recipient and text are its own */
        col_blob(st, 11, m->openid_enc, sizeof m->openid_enc, &m->openid_enc_len);
        store_col_text(body, sizeof body, st, 12);
    }
    sqlite3_reset(st);
    if (m->kind < 0 || m->channel < 0)
        return skip(tx, j, id, "unknown_kind");
    if (!m->transactional) {
        if (has_person || member_id) {
            if (!(st = conn_stmt(tx->c, SQL_OPTED_OUT)))
                return KIOSKD_EIO;
            sqlite3_bind_int64(st, 1, member_id);
            if (has_person)
                sqlite3_bind_blob(st, 2, person, STORE_HASH_LEN, SQLITE_STATIC);
            rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc == SQLITE_ROW)
                return skip(tx, j, id, "opted_out");
            if (rc != SQLITE_DONE)
                return store_rc(rc);
        }
        if (in_quiet(now, j->quiet_from, j->quiet_to)) {
            j->deferred++;
            return exec2(tx, SQL_DEFER, id, next_minute(now, j->quiet_to));
        }
        if (has_person && j->daily_cap > 0) {
            int64_t midnight = (now + CHINA) / DAY * DAY - CHINA;
            int64_t sent = count1(tx, SQL_CAP_COUNT, person, 0, midnight, 0, &rc);
            if (rc)
                return rc;
            if (sent >= j->daily_cap) {
                j->deferred++;
                return exec2(tx, SQL_DEFER, id, midnight + DAY);
            }
        }
    }
    if (m->channel == MSG_WECOM && j->wecom_per_minute > 0) {
        if (!(st = conn_stmt(tx->c, SQL_WECOM_COUNT)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, now);
        int64_t n = 0, oldest = 0;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
            oldest = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return store_rc(rc);
        if (n >= j->wecom_per_minute) {
            j->deferred++;
            return exec2(tx, SQL_DEFER, id, oldest + 61);
        }
    }
    m->data = json_object();
    if (!m->data)
        return KIOSKD_ENOMEM;
    if (m->kind == MSG_CHAT_REPLY)
        set_str(m->data, "text", body);
    const char *why = NULL;
    rc = fill(tx, m, signup_id, event_id, member_id, maturity_id, slot, &why);
    if (rc) {
        json_decref(m->data);
        m->data = NULL;
        if (rc == 1)
            return skip(tx, j, id, why);
        if (rc == KIOSKD_ENOTFOUND)
            return skip(tx, j, id, "subject_gone");
        return rc;
    }
    if (m->channel == MSG_WECHAT && !m->openid_enc_len) {
        /* unbound since it was queued: the channel for people takes it */
        int ch =
            j->person_channel ? msg_channel_from(j->person_channel, strlen(j->person_channel)) : -1;
        if (ch < 0 || !m->phone_enc_len) {
            json_decref(m->data);
            m->data = NULL;
            return skip(tx, j, id, "not_bound");
        }
        if (!(st = conn_stmt(tx->c, SQL_RECHANNEL))) {
            json_decref(m->data);
            m->data = NULL;
            return KIOSKD_EIO;
        }
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, j->person_channel, -1, SQLITE_STATIC);
        if ((rc = store_step_done(st)) != 0) {
            json_decref(m->data);
            m->data = NULL;
            return rc;
        }
        m->channel = ch;
    }
    if ((rc = exec2(tx, SQL_TAKE, id, now)) != 0) {
        json_decref(m->data);
        m->data = NULL;
        return rc;
    }
    j->n++;
    return 0;
}

static int claim_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_claim *j = (struct store_msg_claim *)job;
    int limit = j->limit > 0 && j->limit <= CLAIM_MAX ? j->limit : CLAIM_MAX;
    int64_t ids[CLAIM_MAX];
    int nids = 0;
    int64_t now = tx->now_us / 1000000;
    bool quiet = in_quiet(now, j->quiet_from, j->quiet_to);
    sqlite3_stmt *st;
    int rc;
    if (quiet) {
        if (!(st = conn_stmt(tx->c, SQL_QUIET_DEFER)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, next_minute(now, j->quiet_to));
        sqlite3_bind_int(st, 3, QUIET_DEFER_MAX);
        if ((rc = store_step_done(st)) != 0)
            return rc;
        j->deferred += sqlite3_changes(tx->c->db);
    }
    if (!(st = conn_stmt(tx->c, SQL_DUE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_int(st, 3, quiet ? 1 : 0);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && nids < limit)
        ids[nids++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_rc(rc);
    if (nids == 0)
        return 0;
    j->out = calloc((size_t)nids, sizeof *j->out);
    if (!j->out)
        return KIOSKD_ENOMEM;
    for (int i = 0; i < nids; i++)
        if ((rc = claim_one(tx, j, ids[i])) != 0) {
            store_msg_claim_release(j);
            return rc;
        }
    return 0;
}

void store_msg_claim_init(struct store_msg_claim *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = claim_run;
}

void store_msg_claim_release(struct store_msg_claim *j)
{
    for (int i = 0; i < j->n; i++)
        json_decref(j->out[i].data);
    free(j->out);
    j->out = NULL;
    j->n = 0;
}

/* --- settling an attempt --- */

static const char SQL_SETTLE[] =
    "UPDATE messages SET status = ?2, next_at = ?3, last_error = ?4, sent_at = ?5, "
    "parts = ?6 WHERE id = ?1 AND status = 'sending'";

static int settle_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_settle *j = (struct store_msg_settle *)job;
    int64_t now = tx->now_us / 1000000;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SETTLE);
    if (!st)
        return KIOSKD_EIO;
    static const char *const status[] = {"sent", "queued", "failed", "queued"};
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_text(st, 2, status[j->outcome], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, j->outcome == MSG_OUT_RETRY ? now + j->delay : now);
    if (j->outcome == MSG_OUT_SENT || !j->error[0])
        sqlite3_bind_null(st, 4);
    else
        sqlite3_bind_text(st, 4, j->error, -1, SQLITE_STATIC);
    if (j->outcome == MSG_OUT_SENT)
        sqlite3_bind_int64(st, 5, now);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int(st, 6, j->parts);
    return store_step_done(st);
}

void store_msg_settle_init(struct store_msg_settle *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = settle_run;
}

/* --- staff: retry, unsubscribe --- */

static const char SQL_STATUS_GET[] = "SELECT status FROM messages WHERE id = ?1";
static const char SQL_REQUEUE[] =
    "UPDATE messages SET status = 'queued', attempts = 0, next_at = ?2, last_error = NULL "
    "WHERE id = ?1 AND status = 'failed'";

static int retry_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_retry *j = (struct store_msg_retry *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_STATUS_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->id);
    char status[12] = "";
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        store_col_text(status, sizeof status, st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return store_refuse(job, WHY_MESSAGE_NOT_FOUND);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    if (strcmp(status, "failed") != 0)
        return store_refuse(job, WHY_MESSAGE_NOT_FAILED);
    if ((rc = exec2(tx, SQL_REQUEUE, j->id, tx->now_us / 1000000)) != 0)
        return rc;
    char subject[48];
    snprintf(subject, sizeof subject, "message:%lld", (long long)j->id);
    return store_audit(tx, j->by.staff_id, j->by.device, "message_retry", subject);
}

void store_msg_retry_init(struct store_msg_retry *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = retry_run;
}

static const char SQL_MEMBER_OPTOUT[] =
    "UPDATE members SET opted_out = 1, updated_at = ?2 WHERE id = ?1";

static int unsubscribe_run(struct store_tx *tx, struct store_job *job)
{
    struct store_member_unsubscribe *j = (struct store_member_unsubscribe *)job;
    struct member_row m;
    int rc = member_row_by_no(tx, j->member_no, &m);
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? store_refuse(job, WHY_MEMBER_NOT_FOUND) : rc;
    if ((rc = exec2(tx, SQL_MEMBER_OPTOUT, m.id, tx->now_us / 1000000)) != 0)
        return rc;
    char subject[48];
    snprintf(subject, sizeof subject, "member:%s", m.member_no);
    return store_audit(tx, j->by.staff_id, j->by.device, "member_unsubscribe", subject);
}

void store_member_unsubscribe_init(struct store_member_unsubscribe *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = unsubscribe_run;
}

/* --- the ticket link by SMS --- */

static const char SQL_SIGNUP_META[] =
    "SELECT s.created_at, s.phone_hash, m.id, e.status, s.phone_enc FROM signups s "
    "JOIN events e ON e.id = s.event_id "
    "LEFT JOIN members m ON m.member_no = s.member_no WHERE s.id = ?1";
static const char SQL_TICKET_SENDS[] =
    "SELECT count(*) FROM messages WHERE kind = 'ticket_link' AND signup_id = ?1";
static const char SQL_TICKET_QUEUE[] =
    INSERT_MSG "VALUES (" UID ", 'ticket_link:s' || ?1 || ':' || " HEX8(
        "?2") " || ':' || ?3, 'ticket_link', ?4, 1, ?1, ?5, ?6, NULL, ?2, ?3, ?7, ?7, ?7)";

static int ticket_link_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_ticket_link *j = (struct store_msg_ticket_link *)job;
    int64_t now = tx->now_us / 1000000;
    struct found f;
    int rc = signup_find_by_id(tx, j->signup_id, &f);
    if (rc == KIOSKD_ENOTFOUND)
        return store_refuse(job, WHY_UNKNOWN_TICKET);
    if (rc)
        return rc;
    enum store_why why = ticket_rule(&f, NULL, j->event_id, j->issued_at);
    if (why != WHY_NONE)
        return store_refuse(job, why);
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_SIGNUP_META);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->signup_id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? store_refuse(job, WHY_UNKNOWN_TICKET) : store_rc(rc);
    }
    int64_t created = sqlite3_column_int64(st, 0);
    unsigned char hash[STORE_HASH_LEN];
    memcpy(hash, sqlite3_column_blob(st, 1), STORE_HASH_LEN);
    int64_t member_id = sqlite3_column_int64(st, 2);
    bool event_cancelled = strcmp((const char *)sqlite3_column_text(st, 3), "cancelled") == 0;
    int enc_len = sqlite3_column_bytes(st, 4);
    if (enc_len > 0 && (size_t)enc_len <= sizeof j->phone_enc) {
        memcpy(j->phone_enc, sqlite3_column_blob(st, 4), (size_t)enc_len);
        j->phone_enc_len = (size_t)enc_len;
    }
    sqlite3_reset(st);
    if (event_cancelled)
        return store_refuse(job, WHY_EVENT_CANCELLED);
    if (now - created > j->max_age || now - j->issued_at > j->max_age)
        return store_refuse(job, WHY_TICKET_SMS_LATE);
    int64_t sends = count1(tx, SQL_TICKET_SENDS, NULL, j->signup_id, 0, 0, &rc);
    if (rc)
        return rc;
    if (sends >= j->max_sends)
        return store_refuse(job, WHY_TICKET_SMS_LIMIT);
    if (!(st = conn_stmt(tx->c, SQL_TICKET_QUEUE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, j->signup_id);
    sqlite3_bind_blob(st, 2, hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, sends + 1);
    sqlite3_bind_text(st, 4, j->channel, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, j->event_id);
    if (member_id)
        sqlite3_bind_int64(st, 6, member_id);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, now);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->message_id = sqlite3_last_insert_rowid(tx->c->db);
    j->sends = sends + 1;
    char subject[48];
    snprintf(subject, sizeof subject, "signup:%lld", (long long)j->signup_id);
    return store_audit(tx, NULL, NULL, "ticket_sms", subject);
}

void store_msg_ticket_link_init(struct store_msg_ticket_link *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = ticket_link_run;
    j->max_age = 900;
    j->max_sends = 2;
}

/* --- chat replies past WeChat's 5 seconds --- */

static const char SQL_CHAT_REPLY[] =
    "INSERT INTO messages(uid, dedup_key, kind, channel, transactional, person_hash, slot, "
    "due_at, next_at, created_at, openid_enc, body) VALUES (" UID ", 'chat_reply:' || "
    "lower(hex(?1)), 'chat_reply', 'wechat', 1, ?2, '', ?3, ?3 + ?6, ?3, ?4, ?5) "
    "ON CONFLICT(dedup_key) DO UPDATE SET body = excluded.body, "
    "next_at = min(next_at, excluded.next_at) WHERE status = 'queued'";

static int chat_reply_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_chat_reply *j = (struct store_msg_chat_reply *)job;
    if (!j->openid_enc_len || !j->text[0] || j->hold < 0)
        return KIOSKD_EINVAL;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CHAT_REPLY);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, j->key_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, j->person_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tx->now_us / 1000000);
    sqlite3_bind_blob(st, 4, j->openid_enc, (int)j->openid_enc_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, j->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, j->hold);
    int rc = store_step_done(st);
    if (rc == 0)
        j->queued = sqlite3_changes(tx->c->db) > 0;
    return rc;
}

void store_msg_chat_reply_init(struct store_msg_chat_reply *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = chat_reply_run;
}

static const char SQL_CHAT_CANCEL[] =
    "DELETE FROM messages WHERE dedup_key = 'chat_reply:' || lower(hex(?1)) AND status = 'queued'";
static const char SQL_CHAT_RELEASE[] =
    "UPDATE messages SET next_at = min(next_at, ?2) "
    "WHERE dedup_key = 'chat_reply:' || lower(hex(?1)) AND status = 'queued'";

static int chat_settle_run(struct store_tx *tx, struct store_job *job)
{
    struct store_msg_chat_settle *j = (struct store_msg_chat_settle *)job;
    sqlite3_stmt *st = conn_stmt(tx->c, j->answered ? SQL_CHAT_CANCEL : SQL_CHAT_RELEASE);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, j->key_hash, STORE_HASH_LEN, SQLITE_STATIC);
    if (!j->answered)
        sqlite3_bind_int64(st, 2, tx->now_us / 1000000);
    int rc = store_step_done(st);
    if (rc == 0)
        j->settled = sqlite3_changes(tx->c->db) > 0;
    return rc;
}

void store_msg_chat_settle_init(struct store_msg_chat_settle *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = chat_settle_run;
}

/* --- maturities --- */

static const char SQL_MATURITY_PUT[] =
    "INSERT INTO maturities(member_id, product, amount, matures_on, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(member_id, product, matures_on) "
    "DO UPDATE SET amount = ?3";

static const char SQL_MATURITY_SEEN[] =
    "SELECT count(*) FROM maturities WHERE member_id = ?1 AND product = ?2 AND matures_on = ?3";

static int maturities_run(struct store_tx *tx, struct store_job *job)
{
    struct store_maturities_import *j = (struct store_maturities_import *)job;
    struct store_maturity r;
    int rc;
    while ((rc = j->next(j->arg, &r)) == 1) {
        struct member_row m;
        rc = member_row_by_no(tx, r.member_no, &m);
        if (rc == KIOSKD_ENOTFOUND) {
            j->bad_line = r.line;
            return store_refuse(job, WHY_MEMBER_NOT_FOUND);
        }
        if (rc)
            return rc;
        sqlite3_stmt *st = conn_stmt(tx->c, SQL_MATURITY_SEEN);
        if (!st)
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, m.id);
        sqlite3_bind_text(st, 2, r.product, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r.matures_on, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        bool seen = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return store_rc(rc);
        if (!(st = conn_stmt(tx->c, SQL_MATURITY_PUT)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, m.id);
        sqlite3_bind_text(st, 2, r.product, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r.amount);
        sqlite3_bind_text(st, 4, r.matures_on, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, tx->now_us / 1000000);
        if ((rc = store_step_done(st)) != 0)
            return rc;
        if (seen)
            j->updated++;
        else
            j->added++;
    }
    if (rc < 0)
        return rc;
    return store_audit(tx, NULL, NULL, "import_maturities", NULL);
}

void store_maturities_import_init(struct store_maturities_import *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = maturities_run;
}

/* --- reads (loop) --- */

static const char SQL_LIST[] =
    "SELECT g.id, g.uid, g.kind, g.channel, g.status, g.attempts, g.due_at, g.next_at, "
    "g.sent_at, coalesce(g.last_error, ''), coalesce(s.phone_last4, m.phone_last4, ''), "
    "coalesce(m.member_no, ''), coalesce(g.event_id, 0), coalesce(g.signup_id, 0), g.parts "
    "FROM messages g LEFT JOIN signups s ON s.id = g.signup_id "
    "LEFT JOIN members m ON m.id = g.member_id "
    "WHERE (?1 = '' OR g.status = ?1) AND (?2 = '' OR g.kind = ?2) ORDER BY g.id DESC LIMIT ?3";

int store_msg_list(struct store *s, const char *status, const char *kind, size_t max,
                   struct store_msg_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_LIST);
    if (!st)
        return KIOSKD_EIO;
    struct store_msg_row *out = calloc(max ? max : 1, sizeof *out);
    if (!out)
        return KIOSKD_ENOMEM;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)max);
    int rc;
    size_t k = 0;
    while (k < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_msg_row *r = &out[k++];
        r->id = sqlite3_column_int64(st, 0);
        store_col_text(r->uid, sizeof r->uid, st, 1);
        store_col_text(r->kind, sizeof r->kind, st, 2);
        store_col_text(r->channel, sizeof r->channel, st, 3);
        store_col_text(r->status, sizeof r->status, st, 4);
        r->attempts = sqlite3_column_int64(st, 5);
        r->due_at = sqlite3_column_int64(st, 6);
        r->next_at = sqlite3_column_int64(st, 7);
        r->sent_at = sqlite3_column_int64(st, 8);
        store_col_text(r->error, sizeof r->error, st, 9);
        store_col_text(r->last4, sizeof r->last4, st, 10);
        store_col_text(r->member_no, sizeof r->member_no, st, 11);
        r->event_id = sqlite3_column_int64(st, 12);
        r->signup_id = sqlite3_column_int64(st, 13);
        r->parts = sqlite3_column_int(st, 14);
    }
    if (k < max)
        rc = sqlite3_errcode(s->rd.db);
    sqlite3_reset(st);
    *rows = out;
    *n = k;
    return 0;
}

static const char SQL_COUNTS[] = "SELECT status, count(*) FROM messages GROUP BY status";

int store_msg_counts(struct store *s, int64_t counts[5])
{
    static const char *const names[5] = {"queued", "sending", "sent", "failed", "skipped"};
    memset(counts, 0, 5 * sizeof counts[0]);
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_COUNTS);
    if (!st)
        return KIOSKD_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; i < 5; i++)
            if (name && strcmp(name, names[i]) == 0)
                counts[i] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static const char SQL_TODAY_BY_CHANNEL[] =
    "SELECT channel, sum(status IN ('queued', 'sending') AND due_at < ?2), "
    "sum(status = 'sent' AND sent_at >= ?1 AND sent_at < ?2), "
    "sum(status = 'failed' AND due_at >= ?1 AND due_at < ?2) "
    "FROM messages GROUP BY channel ORDER BY channel";

int store_msg_today(struct store *s, int64_t from, int64_t to, struct store_msg_today *out, int *n)
{
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_TODAY_BY_CHANNEL);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < STORE_MSG_CHANNELS) {
        struct store_msg_today *t = &out[(*n)++];
        store_col_text(t->channel, sizeof t->channel, st, 0);
        t->due = sqlite3_column_int64(st, 1);
        t->sent = sqlite3_column_int64(st, 2);
        t->failed = sqlite3_column_int64(st, 3);
    }
    if (*n == STORE_MSG_CHANNELS && rc == SQLITE_ROW)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

int store_channel_state(struct store *s, const char *name, char *value, size_t n,
                        int64_t *expires_at, int64_t *updated_at)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_STATE_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_col_text(value, n, st, 0);
        *expires_at = sqlite3_column_int64(st, 1);
        *updated_at = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return KIOSKD_ENOTFOUND;
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

static int channel_put_run(struct store_tx *tx, struct store_job *job)
{
    struct store_channel_put *j = (struct store_channel_put *)job;
    return state_put(tx, j->name, j->value, j->expires_at);
}

void store_channel_put_init(struct store_channel_put *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = channel_put_run;
}
