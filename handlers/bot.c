/*
 * The chat bot's commands (积分, 活动, 报名 N, 绑定, 解绑, 退订, 订阅, 帮助)
 * for every channel (handlers/bot.h), the JSON bridge POST /api/v1/bot/messages
 * and the staff's one-time bind codes.
 *
 * A sender is known only by a keyed hash of its id; replies never hold a full
 * name or phone number; an unbound sender sees nobody's data. Replies are
 * short enough for one chat bubble.
 */
#include "handlers/bot.h"

#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/botcmd.h"
#include "core/points.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/validate.h"
#include "daemon/log.h"
#include "daemon/messages.h"
#include "daemon/worker.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/bot.h"
#include "store/events.h"
#include "store/ledger.h"
#include "store/messages.h"

#define BOT_REPLY_MAX 2048 /* WeChat takes 2048 bytes in one text reply */
#define BIND_CODE_TTL 600
#define EVENTS_LISTED 5

static const char HELP[] = "您好，可以发送：\n"
                           "积分 — 查询积分和等级\n"
                           "活动 — 近期活动\n"
                           "报名 编号 — 报名活动，如：报名 2\n"
                           "绑定 手机号 绑定码 — 绑定会员（绑定码请向网点工作人员索取）\n"
                           "解绑、退订、订阅";
static const char GREETING[] = "欢迎关注！绑定会员后可查询积分、报名活动：请在网点向工作人员索取"
                               "绑定码，然后发送“绑定 手机号 绑定码”。发送“帮助”查看全部指令。";
static const char NOT_BOUND[] = "您还没有绑定会员。请在网点向工作人员索取绑定码，然后发送："
                                "绑定 手机号 绑定码";
const char bot_too_fast[] = "您发送得太快了，请一分钟后再试。";
const char bot_bind_usage[] = "请发送：绑定 手机号 绑定码（例如：绑定 13812345678 123456）。"
                              "绑定码请向网点工作人员索取，10 分钟内有效。";
const char bot_signup_usage[] = "请发送“报名 活动编号”，例如：报名 2。发送“活动”查看编号。";

/* How long a reply written held (store/messages.h) waits for its settling:
 * the passive reply's cancel or the late reply's release. */
#define CHAT_HOLD 60
#define APOLOGY "抱歉，刚才的消息没有办理成功（系统繁忙），什么也没有改变。请稍后再发一次。"

/* Where the reply of a command is kept beyond its commit (a WeChat sender's
 * chat_reply message, the bridge's bot_replies row). */
enum row_state {
    ROW_NONE,    /* nothing written yet */
    ROW_HELD,    /* written, held until the reply's fate is known */
    ROW_RELEASED /* written to go (WeChat) */
};

struct bot_ctx {
    struct req_wait wait;
    struct kioskd *k;
    bot_answer_fn answer;
    struct bot_reply_to to;
    lws_sorted_usec_list_t late_sul; /* the reply's bound: armed while it is not ready */
    bool late;   /* answered `success` (WeChat) or 202 (bridge): the reply follows */
    bool bridge; /* the JSON bridge (else WeChat) */
    bool chat;   /* WeChat with customer-service replies on: the reply is kept, held */
    bool has_key, greet;
    bool durable;   /* the reply follows a change: stored with the delivery, across restarts */
    bool turn_held; /* the turn wrote the reply held (else to go at once) */
    enum row_state row;
    unsigned char identity[32], key[32];
    char group[65];
    char pending_id[STORE_REPLY_ID_LEN + 1]; /* the bridge's kept reply */
    struct store_msg_chat_reply *chat_row;   /* the WeChat reply, written by a job (or NULL) */
    struct store_bot_turn turn;
    struct store_signup_new signup;
    struct store_bot_signup bot_signup;
    struct store_event ev;
    struct work work;
    char code[TICKET_CODE_MAX + 1];
    int sign_rc;
    char replies[BOT_OUTCOMES][BOT_REPLY_MAX];
};

void bot_day_time(int64_t t, char *out, size_t n)
{
    static const char *const days[] = {"周日", "周一", "周二", "周三", "周四", "周五", "周六"};
    time_t x = (time_t)(t + 8 * 3600);
    struct tm tm;
    gmtime_r(&x, &tm);
    snprintf(out, n, "%d月%d日 %s %02d:%02d", tm.tm_mon + 1, tm.tm_mday, days[tm.tm_wday % 7],
             tm.tm_hour, tm.tm_min);
}

void bot_amount_text(int64_t fen, char *out, size_t n)
{
    int64_t cny = (fen + 99) / 100;
    if (cny >= 10000)
        snprintf(out, n, "%lld.%lld万元", (long long)(cny / 10000),
                 (long long)((cny % 10000) / 1000));
    else
        snprintf(out, n, "%lld元", (long long)cny);
}

/* The line on how far the member's AUM is from the next tier ("" at the top). */
static void next_tier_line(struct kioskd *k, const struct store_member_view *m, char *out, size_t n)
{
    out[0] = '\0';
    int64_t fen;
    if (!m->aum_enc_len || fen_open(k, "aum", m->aum_enc, m->aum_enc_len, &fen) != 0)
        return;
    const struct {
        int64_t line;
        const char *name;
    } next[] = {{k->cfg.tiers_potential * 100, "潜力"},
                {k->cfg.tiers_midhigh * 100, "中高端"},
                {k->cfg.tiers_private * 100, "财私"}};
    for (size_t i = 0; i < sizeof next / sizeof next[0]; i++)
        if (fen < next[i].line) {
            char gap[32];
            bot_amount_text(next[i].line - fen, gap, sizeof gap);
            snprintf(out, n, "\n距%s还差 %s资产", next[i].name, gap);
            return;
        }
}

/*
 * 积分's reply per bound sender (points_text), kept while the store has
 * completed no job since (store_changes: every write of this daemon), on the
 * same China day, and for at most POINTS_KEEP_US (a command-line tool beside
 * the daemon writes without the writer): a member asking again costs no
 * read. Indexed by the sender's keyed hash.
 */
#define POINTS_SLOTS 256
#define POINTS_KEEP_US 1000000
/* A sender's keyed hash per channel (two SHA-256 runs each), by a plain hash
 * of its id: a sender seen again costs a compare. */
#define IDENTITY_SLOTS 256

struct points_slot {
    unsigned char identity[32];
    uint64_t changes; /* store_changes when it was read */
    lws_usec_t at;    /* lws_now_usecs when it was read */
    char day[DATE_LEN];
    bool used, bound; /* bound: text is the reply (else the sender is unbound) */
    char text[512];
};

/* 积分 read from the store for today: 0, or KIOSKD_ENOTFOUND when unbound. */
static int points_read(struct bot_ctx *c, const char *today, char *out, size_t n)
{
    struct store_member_view m;
    int rc = store_member_by_binding(c->k->store, c->identity, &m);
    if (rc)
        return rc;
    char tier[96], household[64] = "", next[96];
    points_tier_shown(m.tier, m.trial_tier, m.trial_until, today, tier, sizeof tier);
    struct store_points_view pv;
    if ((rc = store_points_view(c->k->store, m.id, today, &pv)) != 0)
        return rc;
    if (m.household[0])
        snprintf(household, sizeof household, "（家庭共 %lld）", (long long)m.household_balance);
    next_tier_line(c->k, &m, next, sizeof next);
    snprintf(out, n, "%s，您好\n等级：%s\n积分：%lld%s\n今年到期：%lld%s", m.name_mask, tier,
             (long long)m.balance, household, (long long)pv.expiring_this_year, next);
    return 0;
}

static struct points_slot *points_slot_of(struct kioskd *k, const unsigned char identity[32]);

/* 积分: the bound member's points, from the store or from what it answered
 * before while nothing could have changed it. 0, or KIOSKD_ENOTFOUND when
 * unbound. */
static int points_text(struct bot_ctx *c, char *out, size_t n)
{
    struct kioskd *k = c->k;
    char today[DATE_LEN];
    today_china(today);
    struct points_slot *ps = points_slot_of(k, c->identity);
    uint64_t changes = store_changes(k->store); /* before the reads: a later change drops it */
    lws_usec_t now = lws_now_usecs();
    if (ps && ps->used && ps->changes == changes && now - ps->at < POINTS_KEEP_US &&
        strcmp(ps->day, today) == 0 && memcmp(ps->identity, c->identity, 32) == 0) {
        if (!ps->bound)
            return KIOSKD_ENOTFOUND;
        snprintf(out, n, "%s", ps->text);
        return 0;
    }
    int rc = points_read(c, today, out, n);
    if (ps && (rc == KIOSKD_ENOTFOUND || (rc == 0 && strlen(out) < sizeof ps->text))) {
        memcpy(ps->identity, c->identity, 32);
        ps->changes = changes;
        ps->at = now;
        memcpy(ps->day, today, DATE_LEN);
        ps->bound = rc == 0;
        size_t len = rc == 0 ? strlen(out) : 0; /* < sizeof ps->text, checked above */
        memcpy(ps->text, out, len);
        ps->text[len] = '\0';
        ps->used = true;
    }
    return rc;
}

/* 活动: the next events with their numbers and places left. */
static int events_text(struct bot_ctx *c, char *out, size_t n)
{
    struct store_event *evs = NULL;
    size_t count = 0;
    int rc = store_events_upcoming(c->k->store, now_s(), EVENTS_LISTED, &evs, &count);
    if (rc)
        return rc;
    size_t own = 0;
    for (size_t i = 0; i < count; i++)
        own += evs[i].branch[0] == '\0';
    if (own == 0) {
        snprintf(out, n, "近期没有可报名的活动，敬请关注。");
        free(evs);
        return 0;
    }
    size_t used = (size_t)snprintf(out, n, "近期活动：");
    for (size_t i = 0; i < count && used < n; i++) {
        char when[48], left[32];
        if (evs[i].branch[0])
            continue; /* another branch's: signed up for there */
        bot_day_time(evs[i].starts_at, when, sizeof when);
        int64_t places = evs[i].capacity - evs[i].confirmed;
        if (places > 0)
            snprintf(left, sizeof left, "余%lld位", (long long)places);
        else
            snprintf(left, sizeof left, "已满，可候补");
        used += (size_t)snprintf(out + used, n - used, "\n%lld. %s %s（%s）", (long long)evs[i].id,
                                 when, evs[i].title, left);
    }
    if (used < n)
        snprintf(out + used, n - used, "\n回复“报名 编号”报名。");
    free(evs);
    return 0;
}

/*
 * Replies to read-only commands (积分, 活动, 帮助, the greeting) are kept in
 * memory for a delivery seen again within BOT_CACHE_SECONDS (WeChat retries
 * within seconds): they change nothing, so they need no commit before the
 * answer. Replies that follow a change are stored with it (store/bot.c).
 */
#define BOT_CACHE_SLOTS 512
#define BOT_CACHE_SECONDS 300

/* The bridge's replies that went 202: pending until their work ends; then
 * the reply is read from bot_replies (written with the work's commit), or
 * from text when the work failed and nothing was kept. */
#define BOT_PENDING_SLOTS 256

struct bot_cache {
    struct {
        unsigned char key[32];
        int64_t at;
        char *reply; /* NULL: free */
    } slot[BOT_CACHE_SLOTS];
    struct {
        char id[STORE_REPLY_ID_LEN + 1]; /* "": free */
        int64_t at;
        char *text; /* NULL: pending */
    } pending[BOT_PENDING_SLOTS];
    struct points_slot points[POINTS_SLOTS];
    struct {
        char from[BOT_ID_MAX + 1]; /* "": free */
        bool wechat;
        unsigned char identity[32];
    } identity[IDENTITY_SLOTS];
};

static struct bot_cache *cache_of(struct kioskd *k)
{
    if (!k->bot_cache)
        k->bot_cache = calloc(1, sizeof(struct bot_cache));
    return k->bot_cache;
}

static size_t cache_slot(const unsigned char key[32])
{
    return ((size_t)key[0] << 8 | key[1]) % BOT_CACHE_SLOTS; /* keys are keyed hashes */
}

static const char *cache_get(struct kioskd *k, const unsigned char key[32])
{
    struct bot_cache *bc = k->bot_cache;
    if (!bc)
        return NULL;
    size_t i = cache_slot(key);
    if (bc->slot[i].reply && now_s() - bc->slot[i].at < BOT_CACHE_SECONDS &&
        memcmp(bc->slot[i].key, key, 32) == 0)
        return bc->slot[i].reply;
    return NULL;
}

static void cache_put(struct kioskd *k, const unsigned char key[32], const char *reply)
{
    struct bot_cache *bc = cache_of(k);
    if (!bc)
        return; /* a repeat is then answered anew: it changes nothing */
    size_t i = cache_slot(key);
    char *copy = strdup(reply);
    if (!copy)
        return;
    free(bc->slot[i].reply);
    memcpy(bc->slot[i].key, key, 32);
    bc->slot[i].at = now_s();
    bc->slot[i].reply = copy;
}

static struct points_slot *points_slot_of(struct kioskd *k, const unsigned char identity[32])
{
    struct bot_cache *bc = cache_of(k);
    return bc ? &bc->points[((size_t)identity[2] << 8 | identity[3]) % POINTS_SLOTS] : NULL;
}

void bot_cache_free(struct kioskd *k)
{
    struct bot_cache *bc = k->bot_cache;
    if (!bc)
        return;
    for (size_t i = 0; i < BOT_CACHE_SLOTS; i++)
        free(bc->slot[i].reply);
    for (size_t i = 0; i < BOT_PENDING_SLOTS; i++)
        free(bc->pending[i].text);
    mbedtls_platform_zeroize(bc->points, sizeof bc->points);
    mbedtls_platform_zeroize(bc->identity, sizeof bc->identity);
    free(bc);
    k->bot_cache = NULL;
}

/* The slot of pending id, or NULL. */
static size_t pending_find(struct bot_cache *bc, const char *id)
{
    for (size_t i = 0; i < BOT_PENDING_SLOTS; i++)
        if (strcmp(bc->pending[i].id, id) == 0)
            return i;
    return BOT_PENDING_SLOTS;
}

/* Marks id pending (a 202 went out); the oldest slot goes when all are taken. */
static void pending_add(struct kioskd *k, const char *id)
{
    struct bot_cache *bc = cache_of(k);
    if (!bc)
        return; /* GET then answers from bot_replies once the work commits */
    size_t pick = 0;
    for (size_t i = 0; i < BOT_PENDING_SLOTS; i++) {
        if (!bc->pending[i].id[0]) {
            pick = i;
            break;
        }
        if (bc->pending[i].at < bc->pending[pick].at)
            pick = i;
    }
    free(bc->pending[pick].text);
    bc->pending[pick].text = NULL;
    bc->pending[pick].at = now_s();
    snprintf(bc->pending[pick].id, sizeof bc->pending[pick].id, "%s", id);
}

/* The work of pending id ended: text is its reply when nothing was kept in
 * bot_replies (NULL: it was; the slot is freed). */
static void pending_end(struct kioskd *k, const char *id, const char *text)
{
    struct bot_cache *bc = k->bot_cache;
    size_t i = bc ? pending_find(bc, id) : BOT_PENDING_SLOTS;
    if (i == BOT_PENDING_SLOTS)
        return;
    if (text && (bc->pending[i].text = strdup(text)) != NULL)
        return;
    bc->pending[i].id[0] = '\0';
}

/* Frees c (its request was answered, or is gone). */
static void bot_free(struct bot_ctx *c)
{
    lws_sul_cancel(&c->late_sul);
    if (c->chat_row) {
        mbedtls_platform_zeroize(c->chat_row, sizeof *c->chat_row);
        free(c->chat_row);
    }
    free(c);
}

/*
 * The reply's bound. A WeChat message whose reply is not ready after
 * [wechat] reply_within (the store is slow) is answered `success` at once
 * (WeChat shows nothing and does not retry); the work goes on without the
 * request, and its reply goes as a chat_reply message, sent as a
 * customer-service message (daemon/messages.c). The bridge's message is
 * answered 202 {"pending": id} after [bot] reply_within; its reply is fetched
 * with GET /api/v1/bot/replies/{id}.
 *
 * So that no answer is lost between two commits, the reply is written with
 * the command's own change (the sign-up, the turn): for WeChat as a held
 * chat_reply message, cancelled once the passive reply went out, released
 * once `success` did (and by itself after CHAT_HOLD, or at the next start,
 * when neither could be recorded); for the bridge as its bot_replies row.
 * A command that fails after `success` or 202 is answered APOLOGY.
 */
static void late_fired(lws_sorted_usec_list_t *sul)
{
    struct bot_ctx *c = lws_container_of(sul, struct bot_ctx, late_sul);
    struct req *r = req_resume(&c->wait);
    if (!r)
        return; /* the client has gone: the work ends as it would have */
    c->late = true;
    if (c->bridge) {
        log_info("bot_reply_pending", "after_ms=%lld", (long long)c->k->cfg.bot_reply_within);
        pending_add(c->k, c->pending_id);
        req_json(r, 202, json_pack("{s:s}", "pending", c->pending_id));
        return;
    }
    log_info("bot_reply_late", "after_ms=%lld", (long long)c->k->cfg.wechat_reply_within);
    req_reply(r, 200, "text/plain; charset=utf-8", "success", 7);
}

struct late_reply {
    union {
        struct store_msg_chat_reply reply;
        struct store_msg_chat_settle settle;
    } job;
    struct kioskd *k;
};

static void late_queued(struct store_job *job)
{
    struct late_reply *q = container_of(job, struct late_reply, job.reply.job);
    if (job->rc)
        log_warn("bot_late_reply_lost", "error=%s", kioskd_strerror(job->rc));
    else if (q->job.reply.queued)
        messages_send_soon(q->k);
    mbedtls_platform_zeroize(q, sizeof *q);
    free(q);
}

/* Fills j, a chat_reply message for c's sender (text to come); false
 * (logged) when it cannot be made. */
static bool chat_row_fill(struct bot_ctx *c, struct store_msg_chat_reply *j, int64_t hold)
{
    struct kioskd *k = c->k;
    store_msg_chat_reply_init(j);
    memcpy(j->key_hash, c->key, sizeof j->key_hash);
    memcpy(j->person_hash, c->identity, sizeof j->person_hash);
    j->hold = hold;
    if (pii_seal(&k->pii, &k->rng, "openid", c->to.from, strlen(c->to.from), j->openid_enc,
                 sizeof j->openid_enc, &j->openid_enc_len) != 0) {
        log_warn("bot_late_reply_unkept", "error=%s", kioskd_strerror(KIOSKD_ECRYPTO));
        return false;
    }
    return true;
}

/* The chat_reply message for a job of c (held for CHAT_HOLD when hold), or
 * NULL when c keeps none. */
static struct store_msg_chat_reply *chat_row(struct bot_ctx *c, bool hold)
{
    if (!c->chat)
        return NULL;
    if (!c->chat_row && !(c->chat_row = malloc(sizeof *c->chat_row))) {
        log_warn("bot_late_reply_unkept", "error=%s", kioskd_strerror(KIOSKD_ENOMEM));
        return NULL;
    }
    return chat_row_fill(c, c->chat_row, hold ? CHAT_HOLD : 0) ? c->chat_row : NULL;
}

/* Queues reply for c's sender as a chat_reply message of its own commit. */
static void late_queue(struct bot_ctx *c, const char *reply)
{
    struct late_reply *q = calloc(1, sizeof *q);
    if (!q || !chat_row_fill(c, &q->job.reply, 0)) {
        log_warn("bot_late_reply_lost", "error=%s", kioskd_strerror(KIOSKD_ENOMEM));
        free(q);
        return;
    }
    q->k = c->k;
    q->job.reply.job.done = late_queued;
    snprintf(q->job.reply.text, sizeof q->job.reply.text, "%s", reply);
    int rc = store_submit(c->k->store, &q->job.reply.job);
    if (rc) {
        log_warn("bot_late_reply_lost", "error=%s", kioskd_strerror(rc));
        free(q);
    }
}

static void settled(struct store_job *job)
{
    struct late_reply *q = container_of(job, struct late_reply, job.settle.job);
    if (job->rc) /* a held reply goes by itself after CHAT_HOLD */
        log_warn("bot_reply_unsettled", "answered=%d error=%s", q->job.settle.answered,
                 kioskd_strerror(job->rc));
    else if (q->job.settle.settled && !q->job.settle.answered)
        messages_send_soon(q->k);
    free(q);
}

/* Cancels (answered) or releases c's held chat_reply message. */
static void chat_settle(struct bot_ctx *c, bool answered)
{
    struct late_reply *q = calloc(1, sizeof *q);
    int rc = KIOSKD_ENOMEM;
    if (q) {
        store_msg_chat_settle_init(&q->job.settle);
        q->k = c->k;
        memcpy(q->job.settle.key_hash, c->key, sizeof q->job.settle.key_hash);
        q->job.settle.answered = answered;
        q->job.settle.job.done = settled;
        rc = store_submit(c->k->store, &q->job.settle.job);
    }
    if (rc) {
        log_warn("bot_reply_unsettled", "answered=%d error=%s", answered, kioskd_strerror(rc));
        free(q);
    }
}

/* The reply after `success` or 202: reply, or NULL when the work failed. */
static void late_deliver(struct bot_ctx *c, const char *reply)
{
    if (!reply)
        log_warn("bot_late_reply_failed", "kept=%d", c->row != ROW_NONE);
    if (c->bridge) {
        pending_end(c->k, c->pending_id, c->row != ROW_NONE ? NULL : reply ? reply : APOLOGY);
        return;
    }
    if (c->row == ROW_HELD)
        chat_settle(c, false);
    else if (c->row == ROW_NONE)
        late_queue(c, reply ? reply : APOLOGY);
}

/* The request back after the store or a worker, in *r: NULL when it was
 * answered `success` or 202 (then true: the work goes on). False when the
 * client has gone (c is freed). */
static bool resumed(struct bot_ctx *c, struct req **r)
{
    *r = req_resume(&c->wait);
    if (*r || c->late)
        return true;
    bot_free(c);
    return false;
}

/* Fails r with rc, or answers the late reply's failure; frees c. */
static void fail(struct bot_ctx *c, struct req *r, int rc)
{
    if (r) {
        req_fail(r, rc);
    } else {
        log_warn("bot_late_work_failed", "error=%s", kioskd_strerror(rc));
        late_deliver(c, NULL);
    }
    bot_free(c);
}

/* Submits job for c (deferring r while there is one); non-zero when it could
 * not (r is answered, or the late reply's failure; c is not freed). Work
 * whose request was answered goes on while the daemon stops: it is waited
 * for like a request. */
static int submit(struct bot_ctx *c, struct req *r, struct store_job *job)
{
    if (r)
        return req_submit(r, job, &c->wait);
    int rc = store_submit(c->k->store, job);
    if (rc) {
        log_warn("bot_late_work_failed", "error=%s", kioskd_strerror(rc));
        late_deliver(c, NULL);
    }
    return rc;
}

static int submit_work(struct bot_ctx *c, struct req *r, struct work *w)
{
    if (r)
        return req_submit_work(r, w, &c->wait);
    w->gone = &c->wait.gone;
    int rc = worker_submit(c->k->workers, w);
    if (rc) {
        log_warn("bot_late_work_failed", "error=%s", kioskd_strerror(rc));
        late_deliver(c, NULL);
    }
    return rc;
}

/* Answers reply (passively, or after `success` or 202); frees c. */
static void finish(struct bot_ctx *c, struct req *r, const char *reply)
{
    if (r) {
        c->answer(r, &c->to, reply);
        if (c->row == ROW_HELD && !c->bridge)
            chat_settle(c, true);
    } else if (c->late) {
        late_deliver(c, reply);
    }
    bot_free(c);
}

static void turn_done(struct store_job *job)
{
    struct bot_ctx *c = container_of(job, struct bot_ctx, turn.job);
    struct req *r;
    if (job->rc == 0 && (c->turn.late || c->turn.pending_id[0]))
        c->row = c->turn_held || c->bridge ? ROW_HELD : ROW_RELEASED;
    if (!resumed(c, &r))
        return;
    if (job->rc) {
        fail(c, r, job->rc);
        return;
    }
    finish(c, r, c->turn.reply);
}

/* Records the turn (op, replies[outcome]) and answers after its commit; or at
 * once when there is nothing to record. */
static void turn_submit(struct bot_ctx *c, struct req *r, enum bot_op op)
{
    struct store_bot_turn *t = &c->turn;
    if (op == BOT_OP_NONE && !c->durable && !c->group[0]) {
        if (c->has_key)
            cache_put(c->k, c->key, c->replies[BOT_DONE]);
        finish(c, r, c->replies[BOT_DONE]);
        return;
    }
    t->op = op;
    memcpy(t->identity_hash, c->identity, sizeof c->identity);
    t->wechat = c->to.flags & 1;
    t->has_key = c->has_key;
    memcpy(t->key_hash, c->key, sizeof c->key);
    snprintf(t->group, sizeof t->group, "%s", c->group);
    t->now = now_s();
    points_china_date(t->now, t->day);
    for (int i = 0; i < BOT_OUTCOMES; i++)
        t->replies[i] = c->replies[i];
    /* the reply kept in the turn's commit: held while the request waits */
    c->turn_held = r != NULL;
    t->late = chat_row(c, c->turn_held);
    snprintf(t->pending_id, sizeof t->pending_id, "%s", c->pending_id);
    t->job.done = turn_done;
    if (submit(c, r, &t->job) != 0)
        bot_free(c); /* answered with the store's refusal */
}

/* --- 报名 N: the store signs the bound member up, a worker signs the ticket --- */

/* The sign-up's reply into out, with the ticket's link when link (and one
 * was signed). Also on the writer thread (signup_text_kept): reads only what
 * the loop leaves alone while the sign-up runs. */
static void signup_text(const struct bot_ctx *c, bool link, char *out, size_t n)
{
    char when[48], code_line[96] = "", url[600] = "";
    bot_day_time(c->ev.starts_at, when, sizeof when);
    if (link && c->k->cfg.bot_public_url[0] && !c->sign_rc)
        snprintf(url, sizeof url, "\n入场券：%s/t/%s", c->k->cfg.bot_public_url, c->code);
    snprintf(code_line, sizeof code_line, "签到码 %s，凭手机号也可签到。", c->signup.short_code);
    if (strcmp(c->signup.status, "waitlisted") == 0)
        snprintf(out, n, "已加入候补：「%s」%s，您是第 %lld 位候补，有空位时会通知您。%s",
                 c->ev.title, when, (long long)c->signup.waitlist_position, url);
    else
        snprintf(out, n, "%s：「%s」%s，%s。%s%s", c->signup.existed ? "您已报名" : "报名成功",
                 c->ev.title, when, c->ev.venue, code_line, url);
}

/* The reply kept with the sign-up's commit: no link yet (the ticket is
 * signed after it); the turn writes the reply again with it. */
static void signup_text_kept(const struct store_bot_signup *j, char *out, size_t n)
{
    signup_text(j->arg, false, out, n);
}

static void ticket_sign_run(struct work *w, struct worker_ctx *ctx)
{
    struct bot_ctx *c = container_of(w, struct bot_ctx, work);
    struct ticket_payload p = {c->signup.event_id, c->signup.signup_id, c->signup.issued_at};
    c->sign_rc = ticket_sign(&ctx->sign_key, &ctx->rng, &p, c->code, sizeof c->code);
}

static void ticket_signed(struct work *w)
{
    struct bot_ctx *c = container_of(w, struct bot_ctx, work);
    struct req *r;
    if (!resumed(c, &r))
        return;
    if (w->rc)
        c->sign_rc = w->rc;
    signup_text(c, true, c->replies[BOT_DONE], BOT_REPLY_MAX);
    turn_submit(c, r, BOT_OP_NONE);
}

static void signup_stored(struct store_job *job)
{
    struct bot_ctx *c = container_of(job, struct bot_ctx, bot_signup.job);
    struct req *r;
    if (job->rc == 0 && (c->bot_signup.late || c->bot_signup.pending_id[0]))
        c->row = ROW_HELD;
    if (!resumed(c, &r))
        return;
    if (job->rc == KIOSKD_EREFUSED) {
        const char *why;
        switch (job->why) {
        case WHY_ALREADY_SIGNED_UP:
            why = "这个手机号已用其他姓名报名了该活动，请联系网点工作人员。";
            break;
        case WHY_SIGNUP_LIMIT:
            why = "您报名的活动已达上限，请先取消一个再报名。";
            break;
        case WHY_EVENT_CANCELLED:
            why = "该活动已取消。发送“活动”查看其他活动。";
            break;
        case WHY_EVENT_ELSEWHERE:
            why = "该活动在本区域的其他网点举办，请到该网点报名。发送“活动”查看本网点的活动。";
            break;
        default:
            why = "该活动已结束报名。发送“活动”查看其他活动。";
        }
        snprintf(c->replies[BOT_DONE], BOT_REPLY_MAX, "%s", why);
        turn_submit(c, r, BOT_OP_NONE);
        return;
    }
    if (job->rc) {
        if (r) {
            req_job_failed(r, job);
            bot_free(c);
        } else {
            fail(c, r, job->rc);
        }
        return;
    }
    if (!c->signup.existed) {
        metrics_add(&c->k->metrics, MC_SIGNUPS, 1);
        messages_signed_up(c->k); /* the confirmation */
        events_changed(c->k);
    }
    c->work.run = ticket_sign_run;
    c->work.done = ticket_signed;
    if (submit_work(c, r, &c->work) != 0)
        bot_free(c);
}

static void signup_start(struct bot_ctx *c, struct req *r, int64_t event_id)
{
    struct kioskd *k = c->k;
    c->durable = true; /* a sign-up's reply is stored with the delivery */
    struct store_member_view m;
    struct store_member_sealed sec;
    int rc = store_member_by_binding(k->store, c->identity, &m);
    if (rc == KIOSKD_ENOTFOUND) {
        snprintf(c->replies[BOT_DONE], BOT_REPLY_MAX, "%s", NOT_BOUND);
        turn_submit(c, r, BOT_OP_NONE);
        return;
    }
    if (rc == 0)
        rc = store_event_get(k->store, event_id, &c->ev);
    if (rc == KIOSKD_ENOTFOUND || (rc == 0 && strcmp(c->ev.status, "cancelled") == 0)) {
        snprintf(c->replies[BOT_DONE], BOT_REPLY_MAX,
                 "没有编号为 %lld 的活动。发送“活动”查看编号。", (long long)event_id);
        turn_submit(c, r, BOT_OP_NONE);
        return;
    }
    if (rc == 0)
        rc = store_member_sealed(k->store, m.id, &sec);
    if (rc) {
        req_fail(r, rc);
        bot_free(c);
        return;
    }
    char name[160], phone[16], plain[160];
    size_t nlen = 0, plen = 0;
    const char *why = NULL;
    rc = pii_open(&k->pii, "name", sec.name_enc, sec.name_enc_len, plain, sizeof plain - 1,
                  &nlen) != 0 ||
                 pii_open(&k->pii, "phone", sec.phone_enc, sec.phone_enc_len, phone,
                          sizeof phone - 1, &plen) != 0
             ? KIOSKD_ECRYPTO
             : 0;
    if (rc == 0) {
        plain[nlen] = '\0';
        phone[plen] = '\0';
        rc = validate_name(plain, name, sizeof name, &why) != 0 || !validate_mobile(phone)
                 ? KIOSKD_EINVAL
                 : 0;
    }
    store_signup_new_init(&c->signup);
    if (rc == 0)
        rc = guest_person(k, name, phone, &c->signup.who);
    mbedtls_platform_zeroize(plain, sizeof plain);
    mbedtls_platform_zeroize(name, sizeof name);
    mbedtls_platform_zeroize(phone, sizeof phone);
    if (rc) {
        log_warn("bot_signup_member_unreadable", "member=%s error=%s", m.member_no,
                 kioskd_strerror(rc));
        req_fail(r, rc);
        bot_free(c);
        return;
    }
    snprintf(c->signup.member_no, sizeof c->signup.member_no, "%s", m.member_no);
    c->signup.event_id = event_id;
    c->signup.now = now_s();
    c->signup.phone_limit = k->cfg.kiosk_signups_per_phone;
    snprintf(c->signup.source, sizeof c->signup.source, "bot");
    snprintf(c->signup.consent_version, sizeof c->signup.consent_version, "%s", CONSENT_VERSION);
    snprintf(c->signup.kid, sizeof c->signup.kid, "%s", k->kid);
    store_bot_signup_init(&c->bot_signup, &c->signup);
    c->bot_signup.late = chat_row(c, true);
    snprintf(c->bot_signup.pending_id, sizeof c->bot_signup.pending_id, "%s", c->pending_id);
    c->bot_signup.text = signup_text_kept;
    c->bot_signup.arg = c;
    c->bot_signup.job.done = signup_stored;
    if (req_submit(r, &c->bot_signup.job, &c->wait) != 0)
        bot_free(c);
}

void bot_keyed(const struct pii *p, const char *what, const char *text, unsigned char out[32])
{
    char buf[BOT_ID_MAX * 2 + 16];
    int n = snprintf(buf, sizeof buf, "%s:%s", what, text);
    pii_hash(p, buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, out);
    mbedtls_platform_zeroize(buf, sizeof buf);
}

void bot_hex(const unsigned char mac[32], char out[65])
{
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The same with the loop's personal-data key. */
static void keyed(struct kioskd *k, const char *what, const char *text, unsigned char out[32])
{
    bot_keyed(&k->pii, what, text, out);
}

/* The keyed hash of sender from on its channel into out. */
static void sender_identity(struct kioskd *k, bool wechat, const char *from, unsigned char out[32])
{
    struct bot_cache *bc = cache_of(k);
    size_t len = strlen(from);
    uint32_t h = 2166136261u; /* FNV-1a: a collision only costs the keyed hash */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)from[i]) * 16777619u;
    size_t i = h % IDENTITY_SLOTS;
    if (bc && len && bc->identity[i].wechat == wechat && strcmp(bc->identity[i].from, from) == 0) {
        memcpy(out, bc->identity[i].identity, 32);
        return;
    }
    keyed(k, wechat ? "wechat" : "bridge", from, out);
    if (bc && len && len < sizeof bc->identity[i].from) {
        memcpy(bc->identity[i].from, from, len + 1);
        bc->identity[i].wechat = wechat;
        memcpy(bc->identity[i].identity, out, 32);
    }
}

bool bot_too_many(struct kioskd *k, const unsigned char identity[32])
{
    char rl_key[20];
    snprintf(rl_key, sizeof rl_key, "bot%02x%02x%02x%02x%02x%02x%02x%02x", identity[0], identity[1],
             identity[2], identity[3], identity[4], identity[5], identity[6], identity[7]);
    if (!k->bot_rl || !limit_take(k->bot_rl, rl_key))
        return false;
    metrics_add(&k->metrics, MC_RATE_LIMITED, 1);
    return true;
}

/* Whether a command only reads (its reply is kept in memory, not stored). */
static bool reads_only(enum bot_cmd_kind kind)
{
    return kind == BOT_POINTS || kind == BOT_EVENTS || kind == BOT_HELP || kind == BOT_UNKNOWN;
}

static void handle(struct req *r, const struct bot_msg *m, bot_answer_fn answer)
{
    struct kioskd *k = r->k;
    struct bot_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        req_fail(r, KIOSKD_ENOMEM);
        return;
    }
    store_bot_turn_init(&c->turn);
    c->k = k;
    c->bridge = !m->wechat;
    if (c->bridge) {
        unsigned char id[STORE_REPLY_ID_LEN / 2];
        if (rng_bytes(&k->rng, id, sizeof id) != 0) {
            free(c);
            req_fail(r, KIOSKD_ECRYPTO);
            return;
        }
        for (size_t i = 0; i < sizeof id; i++)
            snprintf(c->pending_id + 2 * i, 3, "%02x", id[i]);
        lws_sul_schedule(k->lws, 0, &c->late_sul, late_fired,
                         (lws_usec_t)k->cfg.bot_reply_within * LWS_US_PER_MS);
    } else if (messages_chat_replies_on(k)) {
        lws_sul_schedule(k->lws, 0, &c->late_sul, late_fired,
                         (lws_usec_t)k->cfg.wechat_reply_within * LWS_US_PER_MS);
        c->chat = m->key && *m->key; /* the reply message is the delivery's */
    }
    c->answer = answer;
    c->to.flags = m->flags | (m->wechat ? 1 : 0);
    snprintf(c->to.from, sizeof c->to.from, "%s", m->from);
    snprintf(c->to.to, sizeof c->to.to, "%s", m->to ? m->to : "");
    snprintf(c->group, sizeof c->group, "%s", m->group ? m->group : "");
    sender_identity(k, m->wechat, m->from, c->identity);
    struct bot_cmd cmd;
    bool parsed = false;
    if (m->key && *m->key) {
        char key[BOT_ID_MAX * 2 + 2];
        snprintf(key, sizeof key, "%s/%s", m->from, m->key);
        keyed(k, m->wechat ? "wechat-delivery" : "bridge-delivery", key, c->key);
        c->has_key = true;
        /* a delivery seen before: its reply again, nothing done twice (a
         * command that only reads is answered anew after a restart) */
        const char *cached = cache_get(k, c->key);
        if (cached) {
            finish(c, r, cached);
            return;
        }
        if (!m->greet) {
            bot_parse(m->text, m->len, &cmd);
            parsed = true;
        }
        char stored[2048];
        if (!(m->greet || reads_only(cmd.kind)) &&
            store_bot_delivery(k->store, c->key, stored, sizeof stored) == 0) {
            if (c->chat)
                c->row =
                    ROW_HELD; /* an earlier delivery's reply may be held: the passive one goes */
            finish(c, r, stored);
            return;
        }
    }
    if (bot_too_many(k, c->identity)) {
        finish(c, r, bot_too_fast); /* not recorded: a retry later is a new try */
        return;
    }
    char *reply = c->replies[BOT_DONE];
    if (m->greet) {
        snprintf(reply, BOT_REPLY_MAX, "%s", GREETING);
        turn_submit(c, r, BOT_OP_NONE);
        return;
    }
    if (!parsed)
        bot_parse(m->text, m->len, &cmd);
    int rc = 0;
    switch (cmd.kind) {
    case BOT_POINTS:
        rc = points_text(c, reply, BOT_REPLY_MAX);
        if (rc == KIOSKD_ENOTFOUND) {
            snprintf(reply, BOT_REPLY_MAX, "%s", NOT_BOUND);
            rc = 0;
        }
        break;
    case BOT_EVENTS:
        rc = events_text(c, reply, BOT_REPLY_MAX);
        break;
    case BOT_SIGNUP:
        if (cmd.event_id > 0) {
            signup_start(c, r, cmd.event_id);
            return;
        }
        snprintf(reply, BOT_REPLY_MAX, "%s", bot_signup_usage);
        break;
    case BOT_BIND:
        if (!cmd.phone[0] || !cmd.code[0] || !validate_mobile(cmd.phone)) {
            snprintf(reply, BOT_REPLY_MAX, "%s", bot_bind_usage);
            break;
        }
        phone_hash(k, cmd.phone, c->turn.phone_hash);
        keyed(k, "bind", cmd.code, c->turn.code_hash);
        c->turn.bind_max_failures = (int)k->cfg.bot_bind_failures;
        c->turn.bind_lock_seconds = k->cfg.bot_bind_lock;
        if (m->wechat &&
            pii_seal(&k->pii, &k->rng, "openid", m->from, strlen(m->from), c->turn.openid_enc,
                     sizeof c->turn.openid_enc, &c->turn.openid_enc_len) != 0)
            c->turn.openid_enc_len = 0; /* bound all the same; messages go by SMS */
        mbedtls_platform_zeroize(&cmd, sizeof cmd);
        snprintf(reply, BOT_REPLY_MAX, "绑定成功！发送“积分”查询积分，发送“活动”查看近期活动。");
        snprintf(c->replies[BOT_BAD_CODE], BOT_REPLY_MAX,
                 "手机号或绑定码不对，或绑定码已过期。请核对，或向网点工作人员索取新的绑定码。");
        snprintf(c->replies[BOT_LOCKED], BOT_REPLY_MAX,
                 "绑定码错误次数太多，请一小时后再试，或到网点办理。");
        turn_submit(c, r, BOT_OP_BIND);
        return;
    case BOT_UNBIND:
    case BOT_OPTOUT:
    case BOT_OPTIN:
        snprintf(c->replies[BOT_NOT_BOUND], BOT_REPLY_MAX, "%s", NOT_BOUND);
        snprintf(reply, BOT_REPLY_MAX, "%s",
                 cmd.kind == BOT_UNBIND ? "已解除绑定。需要时可以重新绑定。"
                 : cmd.kind == BOT_OPTOUT ? "已退订，之后不再给您发送提醒和活动消息。发送“订阅”"
                                            "可恢复。"
                                          : "已恢复订阅，我们会继续给您发送活动提醒。");
        turn_submit(c, r,
                    cmd.kind == BOT_UNBIND   ? BOT_OP_UNBIND
                    : cmd.kind == BOT_OPTOUT ? BOT_OP_OPTOUT
                                             : BOT_OP_OPTIN);
        return;
    case BOT_HELP:
    case BOT_UNKNOWN:
        snprintf(reply, BOT_REPLY_MAX, "%s", HELP);
        break;
    }
    if (rc) {
        req_fail(r, rc);
        bot_free(c);
        return;
    }
    turn_submit(c, r, BOT_OP_NONE);
}

static void branch_handle(struct req *r, const struct bot_msg *m, bot_answer_fn answer)
{
    struct store *s = r->k->store;
    store_bot_reads_begin(s);
    handle(r, m, answer);
    store_bot_reads_end(s);
}

const struct bot_backend bot_branch = {.name = "branch", .handle = branch_handle};

void bot_handle(struct req *r, const struct bot_msg *m, bot_answer_fn answer)
{
    const struct bot_backend *b = r->k->bot ? r->k->bot : &bot_branch;
    b->handle(r, m, answer);
}

/* --- the JSON bridge --- */

/* Compares two strings in time that depends on their lengths only. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char d = alen == blen ? 0 : 1;
    for (size_t i = 0; i < blen; i++)
        d |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return d == 0;
}

static void bridge_answer(struct req *r, const struct bot_reply_to *to, const char *reply)
{
    (void)to;
    req_json(r, 200, json_pack("{s:s}", "reply", reply));
}

/* Whether r carries the bridge's X-Bot-Secret; false when it answered r. */
static bool bridge_auth(struct req *r)
{
    const char *secret = r->k->cfg.bot_secret;
    if (!secret[0]) {
        req_error(r, 503, "bot_disabled", "this daemon has no [bot] secret set", NULL);
        return false;
    }
    char given[257];
    int n = lws_hdr_custom_copy(r->wsi, given, sizeof given, "x-bot-secret:", 13);
    bool ok = n > 0 && same_secret(given, (size_t)n, secret, strlen(secret));
    mbedtls_platform_zeroize(given, sizeof given);
    if (!ok)
        req_error(r, 401, "unauthorized", "X-Bot-Secret is missing or wrong", NULL);
    return ok;
}

/* POST /api/v1/bot/messages {"from","text","group"?,"msg_id"?} with X-Bot-Secret */
static void bridge_message(struct req *r)
{
    if (!bridge_auth(r))
        return;
    struct jv *v = &r->json;
    const char *from = jv_str(v, "from", true, 1, BOT_ID_MAX);
    const char *text = jv_str(v, "text", true, 0, 2048);
    const char *group = jv_str(v, "group", false, 1, 64);
    const char *msg_id = jv_str(v, "msg_id", false, 1, 64);
    if (from && validate_text(from, strlen(from), 1, BOT_ID_MAX))
        jv_fail(v, "from", "contains control characters");
    if (group && validate_text(group, strlen(group), 1, 64))
        jv_fail(v, "group", "contains control characters");
    if (msg_id && validate_text(msg_id, strlen(msg_id), 1, 64))
        jv_fail(v, "msg_id", "contains control characters");
    if (req_fields_failed(r, v))
        return;
    struct bot_msg m = {
        .from = from,
        .text = text,
        .len = json_string_length(json_object_get(v->root, "text")),
        .group = group,
        .key = msg_id,
    };
    bot_handle(r, &m, bridge_answer);
}

/* GET /api/v1/bot/replies/{id} with X-Bot-Secret: the reply of a message
 * answered 202 {"pending": id}: 200 {"reply"} once it is there, 202
 * {"pending"} while the work goes on, 404 for an id not known (never given,
 * past its keeping, or its work cut by a restart before it committed). */
static void bridge_reply(struct req *r)
{
    if (!bridge_auth(r))
        return;
    const char *id = req_param(r, "id");
    bool ok = id && strlen(id) == STORE_REPLY_ID_LEN;
    for (size_t i = 0; ok && i < STORE_REPLY_ID_LEN; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok) {
        req_error(r, 404, "not_found", "no such reply", NULL);
        return;
    }
    struct bot_cache *bc = r->k->bot_cache;
    size_t i = bc ? pending_find(bc, id) : BOT_PENDING_SLOTS;
    if (i < BOT_PENDING_SLOTS) {
        if (bc->pending[i].text)
            req_json(r, 200, json_pack("{s:s}", "reply", bc->pending[i].text));
        else
            req_json(r, 202, json_pack("{s:s}", "pending", id));
        return;
    }
    char reply[BOT_REPLY_MAX];
    int rc = store_bot_reply(r->k->store, id, reply, sizeof reply);
    if (rc == KIOSKD_ENOTFOUND)
        req_error(r, 404, "not_found", "no such reply", NULL);
    else if (rc)
        req_fail(r, rc);
    else
        req_json(r, 200, json_pack("{s:s}", "reply", reply));
}

/* --- POST /api/v1/members/{member_no}/bind_code (staff) --- */

struct bind_code_ctx {
    struct write_ctx w;
    struct store_bind_code job;
    char code[7];
};

static int bind_code_fill(struct req *r, struct write_ctx *w)
{
    struct bind_code_ctx *c = (struct bind_code_ctx *)w;
    struct kioskd *k = r->k;
    const char *no = req_param(r, "member_no");
    if (!no || strlen(no) > MEMBER_NO_MAX) {
        req_refuse(r, WHY_MEMBER_NOT_FOUND);
        return KIOSKD_ENOTFOUND;
    }
    store_bind_code_init(&c->job);
    snprintf(c->job.member_no, sizeof c->job.member_no, "%s", no);
    uint32_t x;
    if (rng_bytes(&k->rng, &x, sizeof x) != 0)
        return KIOSKD_ECRYPTO;
    snprintf(c->code, sizeof c->code, "%06u", (unsigned)(x % 1000000u));
    keyed(k, "bind", c->code, c->job.code_hash);
    c->job.expires_at = now_s() + BIND_CODE_TTL;
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *bind_code_reply(struct write_ctx *w, int *status)
{
    struct bind_code_ctx *c = (struct bind_code_ctx *)w;
    *status = 201;
    return json_pack("{s:s, s:s, s:o}", "member_no", c->job.member_no, "code", c->code,
                     "expires_at", json_time(c->job.expires_at));
}

static void bind_code_release(struct write_ctx *w)
{
    struct bind_code_ctx *c = (struct bind_code_ctx *)w;
    mbedtls_platform_zeroize(c->code, sizeof c->code);
}

static const struct route_write bind_code = {
    .ctx_size = sizeof(struct bind_code_ctx),
    .fill = bind_code_fill,
    .reply = bind_code_reply,
    .release = bind_code_release,
};

/* --- GET /api/v1/bot/stats?from=&to= (manager): commands per group per day --- */

#define STATS_DAYS_MAX 366
#define STATS_ROWS_MAX 20000

static void bot_stats(struct req *r)
{
    char from[DATE_LEN], to[DATE_LEN];
    if (!query_date_range(r, 30, STATS_DAYS_MAX, from, to))
        return;
    struct store_group_day *rows;
    size_t n;
    int rc = store_bot_group_days(r->k->store, from, to, STATS_ROWS_MAX, &rows, &n);
    if (rc) {
        req_fail(r, rc);
        return;
    }
    json_t *groups = json_array(), *days = NULL;
    bool ok = groups != NULL;
    int64_t total = 0;
    for (size_t i = 0; i < n && ok; i++) {
        ok = (days || (days = json_array())) &&
             json_array_append_new(days, json_pack("{s:s, s:I}", "day", rows[i].day, "commands",
                                                   (json_int_t)rows[i].commands)) == 0;
        total += rows[i].commands;
        if (!ok || (i + 1 < n && strcmp(rows[i + 1].group, rows[i].group) == 0))
            continue;
        ok =
            json_array_append_new(groups, json_pack("{s:s, s:o, s:I}", "group", rows[i].group,
                                                    "days", days, "total", (json_int_t)total)) == 0;
        days = NULL;
        total = 0;
    }
    free(rows);
    json_decref(days);
    if (!ok) {
        json_decref(groups);
        groups = NULL;
    }
    req_json(r, 200,
             groups ? json_pack("{s:s, s:s, s:o}", "from", from, "to", to, "groups", groups)
                    : NULL);
}

/* `kioskd hq`: the bridge only (its replies are never pending there, and
 * HQ has no staff for the rest). */
const struct route bot_hq_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/bot/messages",
     .flags = ROUTE_BODY,
     .body_max = 8192,
     .fn = bridge_message},
    {0},
};

const struct route bot_routes[] = {
    {.method = HTTP_GET, .pattern = "/api/v1/bot/stats", .role = ROLE_MANAGER, .fn = bot_stats},
    {.method = HTTP_POST,
     .pattern = "/api/v1/bot/messages",
     .flags = ROUTE_BODY,
     .body_max = 8192,
     .fn = bridge_message},
    {.method = HTTP_GET, .pattern = "/api/v1/bot/replies/{id}", .fn = bridge_reply},
    {.method = HTTP_POST,
     .pattern = "/api/v1/members/{member_no}/bind_code",
     .role = ROLE_STAFF,
     .write = &bind_code},
    {0},
};
