/*
 * The chat bot's jobs and reads (store/bot.h). A turn decides on the writer
 * thread, so that two deliveries of one message, or many wrong codes at once,
 * are counted exactly: the first delivery's reply is stored with its change
 * in one savepoint, and a later delivery of the same key finds it.
 */
#include "store/bot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_CODE_SET[] =
    "INSERT INTO bind_codes(member_id, code_hash, expires_at, created_by) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(member_id) DO UPDATE SET code_hash = ?2, expires_at = ?3, created_by = ?4, "
    "attempts = 0";
static const char SQL_DELIVERY_GET[] = "SELECT reply FROM bot_deliveries WHERE key_hash = ?1";
static const char SQL_DELIVERY_PUT[] =
    "INSERT INTO bot_deliveries(key_hash, reply, at) VALUES (?1, ?2, ?3)";
static const char SQL_GROUP_COUNT[] =
    "INSERT INTO bot_group_stats(group_id, day, commands) VALUES (?1, ?2, 1) "
    "ON CONFLICT(group_id, day) DO UPDATE SET commands = commands + 1";
static const char SQL_BINDING_MEMBER[] =
    "SELECT member_id FROM bot_bindings WHERE identity_hash = ?1";
static const char SQL_BINDING_DELETE[] = "DELETE FROM bot_bindings WHERE identity_hash = ?1";
static const char SQL_BINDING_PUT[] =
    "INSERT INTO bot_bindings(identity_hash, channel, member_id, bound_at, openid_enc) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(identity_hash) DO UPDATE SET channel = ?2, "
    "member_id = ?3, bound_at = ?4, openid_enc = ?5";
static const char SQL_OPTED_OUT[] = "UPDATE members SET opted_out = ?2 WHERE id = ?1";
static const char SQL_FAILURES_GET[] =
    "SELECT failures, locked_until FROM bind_failures WHERE identity_hash = ?1";
static const char SQL_FAILURE_ADD[] =
    "INSERT INTO bind_failures(identity_hash, failures, locked_until, last_at) "
    "VALUES (?1, 1, 0, ?2) ON CONFLICT(identity_hash) DO UPDATE SET "
    "failures = CASE WHEN locked_until > 0 AND locked_until <= ?2 THEN 1 ELSE failures + 1 END, "
    "locked_until = CASE WHEN locked_until > 0 AND locked_until <= ?2 THEN 0 ELSE locked_until END,"
    " last_at = ?2";
static const char SQL_FAILURE_LOCK[] =
    "UPDATE bind_failures SET locked_until = ?2 WHERE identity_hash = ?1";
static const char SQL_FAILURES_CLEAR[] = "DELETE FROM bind_failures WHERE identity_hash = ?1";
static const char SQL_MEMBER_OF_PHONE[] =
    "SELECT id, member_no FROM members WHERE phone_hash = ?1 ORDER BY id";
static const char SQL_CODE_MATCH[] =
    "SELECT 1 FROM bind_codes WHERE member_id = ?1 AND code_hash = ?2 AND expires_at > ?3";
static const char SQL_CODE_DELETE[] = "DELETE FROM bind_codes WHERE member_id = ?1";
static const char SQL_CODE_ATTEMPT[] =
    "UPDATE bind_codes SET attempts = attempts + 1 WHERE member_id = ?1";
static const char SQL_CODE_BURN[] =
    "DELETE FROM bind_codes WHERE member_id = ?1 AND attempts >= ?2";

/* Wrong codes for one member's phone, from any senders, before its code is burnt. */
#define BIND_CODE_ATTEMPTS 5

static int code_set_run(struct store_tx *tx, struct store_job *job)
{
    struct store_bind_code *j = (struct store_bind_code *)job;
    struct member_row m;
    int rc = member_row_by_no(tx, j->member_no, &m);
    if (rc)
        return rc == KIOSKD_ENOTFOUND ? store_refuse(job, WHY_MEMBER_NOT_FOUND) : rc;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_CODE_SET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, m.id);
    sqlite3_bind_blob(st, 2, j->code_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, j->expires_at);
    sqlite3_bind_text(st, 4, j->by.staff_id, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    char subject[48];
    snprintf(subject, sizeof subject, "member:%s", m.member_no);
    return store_audit(tx, j->by.staff_id, j->by.device, "bind_code", subject);
}

void store_bind_code_init(struct store_bind_code *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = code_set_run;
}

static void bind_hash(sqlite3_stmt *st, int col, const unsigned char *h)
{
    sqlite3_bind_blob(st, col, h, STORE_HASH_LEN, SQLITE_STATIC);
}

/* The member bound to the turn's identity into *member_id (0: none). */
static int bound_member(struct store_tx *tx, const struct store_bot_turn *j, int64_t *member_id)
{
    *member_id = 0;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_BINDING_MEMBER);
    if (!st)
        return KIOSKD_EIO;
    bind_hash(st, 1, j->identity_hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *member_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_rc(rc);
}

/* A wrong code: counted, and the identity locked at the most allowed. */
static int bind_failed(struct store_tx *tx, struct store_bot_turn *j)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_FAILURE_ADD);
    if (!st)
        return KIOSKD_EIO;
    bind_hash(st, 1, j->identity_hash);
    sqlite3_bind_int64(st, 2, j->now);
    int rc = store_step_done(st);
    if (rc || !(st = conn_stmt(tx->c, SQL_FAILURES_GET)))
        return rc ? rc : KIOSKD_EIO;
    bind_hash(st, 1, j->identity_hash);
    int64_t failures = 0;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        failures = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_rc(rc);
    j->outcome = BOT_BAD_CODE;
    if (failures < j->bind_max_failures)
        return 0;
    if (!(st = conn_stmt(tx->c, SQL_FAILURE_LOCK)))
        return KIOSKD_EIO;
    j->locked_until = j->now + j->bind_lock_seconds;
    bind_hash(st, 1, j->identity_hash);
    sqlite3_bind_int64(st, 2, j->locked_until);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->outcome = BOT_LOCKED;
    return store_audit(tx, NULL, NULL, "bind_locked", "chat");
}

/* 绑定: the phone's member (any member with that phone) must hold this code. */
static int bind_run(struct store_tx *tx, struct store_bot_turn *j)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_FAILURES_GET);
    if (!st)
        return KIOSKD_EIO;
    bind_hash(st, 1, j->identity_hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        j->locked_until = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    if (j->locked_until > j->now) {
        j->outcome = BOT_LOCKED;
        return 0;
    }
    j->locked_until = 0;
    /* collect the members of the phone first, then look at their codes */
    int64_t ids[8];
    char nos[8][MEMBER_NO_MAX + 1];
    int n = 0;
    if (!(st = conn_stmt(tx->c, SQL_MEMBER_OF_PHONE)))
        return KIOSKD_EIO;
    bind_hash(st, 1, j->phone_hash);
    while (n < 8 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(st, 0);
        store_col_text(nos[n], sizeof nos[n], st, 1);
        n++;
    }
    if (n == 8)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_rc(rc);
    int64_t member = 0;
    for (int i = 0; i < n && !member; i++) {
        if (!(st = conn_stmt(tx->c, SQL_CODE_MATCH)))
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, ids[i]);
        bind_hash(st, 2, j->code_hash);
        sqlite3_bind_int64(st, 3, j->now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) {
            member = ids[i];
            memcpy(j->member_no, nos[i], sizeof j->member_no);
        } else if (rc != SQLITE_DONE) {
            return store_rc(rc);
        }
    }
    if (!member) {
        /* every member of that phone: one more wrong try at its code */
        for (int i = 0; i < n; i++) {
            if (!(st = conn_stmt(tx->c, SQL_CODE_ATTEMPT)))
                return KIOSKD_EIO;
            sqlite3_bind_int64(st, 1, ids[i]);
            if ((rc = store_step_done(st)) != 0 || !(st = conn_stmt(tx->c, SQL_CODE_BURN)))
                return rc ? rc : KIOSKD_EIO;
            sqlite3_bind_int64(st, 1, ids[i]);
            sqlite3_bind_int(st, 2, BIND_CODE_ATTEMPTS);
            if ((rc = store_step_done(st)) != 0)
                return rc;
        }
        return bind_failed(tx, j);
    }
    /* a code serves once; the identity is bound to this member from now on */
    if (!(st = conn_stmt(tx->c, SQL_CODE_DELETE)))
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, member);
    if ((rc = store_step_done(st)) != 0 || !(st = conn_stmt(tx->c, SQL_BINDING_PUT)))
        return rc ? rc : KIOSKD_EIO;
    bind_hash(st, 1, j->identity_hash);
    sqlite3_bind_text(st, 2, j->wechat ? "wechat" : "bridge", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, member);
    sqlite3_bind_int64(st, 4, j->now);
    if (j->wechat && j->openid_enc_len)
        sqlite3_bind_blob(st, 5, j->openid_enc, (int)j->openid_enc_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    if ((rc = store_step_done(st)) != 0 || !(st = conn_stmt(tx->c, SQL_FAILURES_CLEAR)))
        return rc ? rc : KIOSKD_EIO;
    bind_hash(st, 1, j->identity_hash);
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->outcome = BOT_DONE;
    char subject[48];
    snprintf(subject, sizeof subject, "member:%s", j->member_no);
    return store_audit(tx, NULL, NULL, "chat_bind", subject);
}

/* 解绑, 退订, 订阅: changes of the member bound to the identity. */
static int bound_change_run(struct store_tx *tx, struct store_bot_turn *j)
{
    int64_t member;
    int rc = bound_member(tx, j, &member);
    if (rc)
        return rc;
    if (!member) {
        j->outcome = BOT_NOT_BOUND;
        return 0;
    }
    sqlite3_stmt *st =
        conn_stmt(tx->c, j->op == BOT_OP_UNBIND ? SQL_BINDING_DELETE : SQL_OPTED_OUT);
    if (!st)
        return KIOSKD_EIO;
    if (j->op == BOT_OP_UNBIND) {
        bind_hash(st, 1, j->identity_hash);
    } else {
        sqlite3_bind_int64(st, 1, member);
        sqlite3_bind_int(st, 2, j->op == BOT_OP_OPTOUT);
    }
    if ((rc = store_step_done(st)) != 0)
        return rc;
    j->outcome = BOT_DONE;
    static const char *const actions[] = {[BOT_OP_UNBIND] = "chat_unbind",
                                          [BOT_OP_OPTOUT] = "messages_opt_out",
                                          [BOT_OP_OPTIN] = "messages_opt_in"};
    json_t *data =
        json_pack("{s:I, s:s}", "member_id", (json_int_t)member, "change", actions[j->op]);
    return store_journal(tx, NULL, NULL, actions[j->op], "member", member, "member_changed", data);
}

static const char SQL_REPLY_PUT[] = "INSERT INTO bot_replies(id, reply, at) VALUES (?1, ?2, ?3) "
                                    "ON CONFLICT(id) DO UPDATE SET reply = excluded.reply";

/* Keeps reply as the bridge's bot_replies row id ("" : none). */
static int reply_keep(struct store_tx *tx, const char *id, const char *reply)
{
    if (!id[0])
        return 0;
    if (strlen(id) != STORE_REPLY_ID_LEN)
        return KIOSKD_EINVAL;
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_REPLY_PUT);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reply, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, tx->now_us / 1000000);
    return store_step_done(st);
}

/* Writes reply where it must outlive the commit: the WeChat sender's
 * chat_reply message, the bridge's kept reply. */
static int reply_store(struct store_tx *tx, struct store_msg_chat_reply *late,
                       const char *pending_id, const char *reply)
{
    int rc = reply_keep(tx, pending_id, reply);
    if (rc || !late)
        return rc;
    snprintf(late->text, sizeof late->text, "%s", reply);
    return late->job.run(tx, &late->job);
}

static int late_run(struct store_tx *tx, struct store_bot_turn *j)
{
    return reply_store(tx, j->late, j->pending_id, j->reply);
}

static int turn_run(struct store_tx *tx, struct store_job *job)
{
    struct store_bot_turn *j = (struct store_bot_turn *)job;
    sqlite3_stmt *st;
    int rc;
    if (j->has_key) {
        if (!(st = conn_stmt(tx->c, SQL_DELIVERY_GET)))
            return KIOSKD_EIO;
        bind_hash(st, 1, j->key_hash);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            store_col_text(j->stored, sizeof j->stored, st, 0);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) {
            j->duplicate = true;
            j->reply = j->stored;
            return late_run(tx, j);
        }
        if (rc != SQLITE_DONE)
            return store_rc(rc);
    }
    j->outcome = BOT_DONE;
    if (j->op == BOT_OP_BIND)
        rc = bind_run(tx, j);
    else if (j->op != BOT_OP_NONE)
        rc = bound_change_run(tx, j);
    else
        rc = 0;
    if (rc)
        return rc;
    j->reply = j->replies[j->outcome] ? j->replies[j->outcome] : "";
    if (j->has_key) {
        if (!(st = conn_stmt(tx->c, SQL_DELIVERY_PUT)))
            return KIOSKD_EIO;
        bind_hash(st, 1, j->key_hash);
        sqlite3_bind_text(st, 2, j->reply, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, j->now);
        if ((rc = store_step_done(st)) != 0)
            return rc;
    }
    if (j->group[0]) {
        if (!(st = conn_stmt(tx->c, SQL_GROUP_COUNT)))
            return KIOSKD_EIO;
        sqlite3_bind_text(st, 1, j->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, j->day, -1, SQLITE_STATIC);
        if ((rc = store_step_done(st)) != 0)
            return rc;
    }
    return late_run(tx, j);
}

void store_bot_turn_init(struct store_bot_turn *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = turn_run;
}

static int signup_run(struct store_tx *tx, struct store_job *job)
{
    struct store_bot_signup *j = (struct store_bot_signup *)job;
    int rc = j->signup->job.run(tx, &j->signup->job);
    job->why = j->signup->job.why;
    if (rc || (!j->late && !j->pending_id[0]))
        return rc;
    char reply[2048];
    j->text(j, reply, sizeof reply);
    return reply_store(tx, j->late, j->pending_id, reply);
}

void store_bot_signup_init(struct store_bot_signup *j, struct store_signup_new *signup)
{
    memset(j, 0, sizeof *j);
    j->job.run = signup_run;
    j->signup = signup;
}

static const char SQL_DELIVERIES_PRUNE[] = "DELETE FROM bot_deliveries WHERE at < ?1";
static const char SQL_REPLIES_PRUNE[] = "DELETE FROM bot_replies WHERE at < ?1";

static int prune_run(struct store_tx *tx, struct store_job *job)
{
    struct store_bot_prune *j = (struct store_bot_prune *)job;
    const char *const sql[] = {SQL_DELIVERIES_PRUNE, SQL_REPLIES_PRUNE};
    j->removed = 0;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = conn_stmt(tx->c, sql[i]);
        if (!st)
            return KIOSKD_EIO;
        sqlite3_bind_int64(st, 1, j->before);
        int rc = store_step_done(st);
        if (rc)
            return rc;
        j->removed += sqlite3_changes(tx->c->db);
    }
    return 0;
}

void store_bot_prune_init(struct store_bot_prune *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = prune_run;
}

int store_bot_delivery(struct store *s, const unsigned char key_hash[STORE_HASH_LEN], char *out,
                       size_t n)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_DELIVERY_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_blob(st, 1, key_hash, STORE_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        store_col_text(out, n, st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

static const char SQL_READS_BEGIN[] = "BEGIN";
static const char SQL_READS_END[] = "COMMIT";

void store_bot_reads_begin(struct store *s)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_READS_BEGIN);
    if (st)
        sqlite3_step(st);
}

void store_bot_reads_end(struct store *s)
{
    if (sqlite3_get_autocommit(s->rd.db))
        return;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_READS_END);
    if (st && sqlite3_step(st) == SQLITE_DONE)
        return;
    /* a statement left running holds the transaction: reset them all, so
     * that later reads never stay on this snapshot */
    for (size_t i = 0; i < STMT_SLOTS; i++)
        if (s->rd.stmt[i])
            sqlite3_reset(s->rd.stmt[i]);
    sqlite3_exec(s->rd.db, "ROLLBACK", NULL, NULL, NULL);
}

static const char SQL_REPLY_GET[] = "SELECT reply FROM bot_replies WHERE id = ?1";

int store_bot_reply(struct store *s, const char *id, char *out, size_t n)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_REPLY_GET);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        store_col_text(out, n, st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
}

static const char SQL_GROUP_DAYS[] =
    "SELECT group_id, day, commands FROM bot_group_stats WHERE day BETWEEN ?1 AND ?2 "
    "ORDER BY group_id, day LIMIT ?3";

int store_bot_group_days(struct store *s, const char *from, const char *to, size_t max,
                         struct store_group_day **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!max)
        return 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_GROUP_DAYS);
    if (!st)
        return KIOSKD_EIO;
    size_t cap = 64, i = 0;
    struct store_group_day *rows = malloc(cap * sizeof *rows), *more;
    if (!rows)
        return KIOSKD_ENOMEM;
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    int rc, err = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (i == cap) {
            if (!(more = realloc(rows, cap * 2 * sizeof *rows))) {
                err = KIOSKD_ENOMEM;
                break;
            }
            rows = more;
            cap *= 2;
        }
        store_col_text(rows[i].group, sizeof rows[i].group, st, 0);
        store_col_text(rows[i].day, sizeof rows[i].day, st, 1);
        rows[i].commands = sqlite3_column_int64(st, 2);
        i++;
    }
    sqlite3_reset(st);
    if (!err && rc != SQLITE_DONE)
        err = store_rc(rc);
    if (err || i == 0) {
        free(rows);
        return err;
    }
    *out = rows;
    *n = i;
    return 0;
}
