/*
 * The chat bot at HQ (bot_hq, handlers/bot.h; docs/wechat.md "The bot at
 * HQ"): `kioskd hq` answers the same channels (/wechat, the JSON bridge) and
 * the same commands as a branch from HQ's data, on SQLite or PostgreSQL.
 * Each message is one store job (store/hqbot.h), so the loop never waits on
 * the database: it reads, makes the command's change and keeps the
 * delivery's reply in one transaction. The reply is written on the storage
 * thread (reply_text), where a sign-up's ticket is signed with HQ's key.
 *
 * Chat identities, delivery keys and bind codes are keyed hashes under HQ's
 * key; replies hold masked names only; logs hold neither.
 */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/botcmd.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/validate.h"
#include "daemon/hq.h"
#include "daemon/kioskd.h"
#include "daemon/log.h"
#include "handlers/bot.h"
#include "handlers/common.h"
#include "store/hqbot.h"

static const char HELP[] = "您好，可以发送：\n"
                           "积分 — 查询积分和等级\n"
                           "活动 — 各网点近期活动\n"
                           "报名 编号 — 报名活动，如：报名 2\n"
                           "绑定 手机号 绑定码 — 绑定会员（绑定码请向网点或客服索取）\n"
                           "解绑";
static const char GREETING[] = "欢迎关注！绑定会员后可查询积分、报名各网点的活动：请向网点或客服"
                               "索取绑定码，然后发送“绑定 手机号 绑定码”。发送“帮助”查看全部指令。";
static const char NOT_BOUND[] = "您还没有绑定会员。请向网点或客服索取绑定码，然后发送："
                                "绑定 手机号 绑定码";
static const char BRANCH_ONLY[] = "退订和订阅提醒请在您常去的网点办理，或联系网点工作人员。"
                                  "发送“帮助”查看这里可用的指令。";

struct hqbot_ctx {
    struct req_wait wait;
    struct kioskd *k;
    bot_answer_fn answer;
    struct bot_reply_to to;
    enum bot_cmd_kind kind;
    bool greet;
    struct store_hq_bot j;
    struct store_hq_signup signup;
};

/* 积分: the member's points and tier (AUM as HQ has it). */
static void points_text(const struct hqbot_ctx *c, char *out, size_t n)
{
    const struct store_hq_bot *j = &c->j;
    const struct config *cfg = &c->k->cfg;
    struct tier_lines lines = {cfg->tiers_potential * 100, cfg->tiers_midhigh * 100,
                               cfg->tiers_private * 100};
    char next[96] = "";
    const char *tier = j->aum_fen < 0 ? "—" : tier_of(&lines, j->aum_fen);
    const int64_t line[] = {lines.potential, lines.midhigh, lines.private_line};
    const char *const names[] = {"潜力", "中高端", "财私"};
    for (size_t i = 0; j->aum_fen >= 0 && i < 3; i++)
        if (j->aum_fen < line[i]) {
            char gap[32];
            bot_amount_text(line[i] - j->aum_fen, gap, sizeof gap);
            snprintf(next, sizeof next, "\n距%s还差 %s资产", names[i], gap);
            break;
        }
    snprintf(out, n, "%s，您好\n等级：%s\n积分：%lld%s", j->name_masked, tier, (long long)j->points,
             next);
}

/* 活动: the next events of every branch, each with its branch. */
static void events_text(const struct store_hq_bot *j, char *out, size_t n)
{
    if (j->nevents == 0) {
        snprintf(out, n, "近期没有可报名的活动，敬请关注。");
        return;
    }
    static const char tail[] = "\n回复“报名 编号”报名。";
    size_t used = (size_t)snprintf(out, n, "近期活动：");
    for (size_t i = 0; i < j->nevents; i++) {
        char when[48], line[1024];
        bot_day_time(j->events[i].starts_at, when, sizeof when);
        int len = snprintf(line, sizeof line, "\n%lld. %s %s（%s，%s）", (long long)j->events[i].no,
                           when, j->events[i].title, j->events[i].device, j->events[i].venue);
        if (len < 0 || (size_t)len >= sizeof line || used + (size_t)len + sizeof tail > n)
            break; /* whole lines only: one chat bubble */
        memcpy(out + used, line, (size_t)len + 1);
        used += (size_t)len;
    }
    snprintf(out + used, n - used, "%s", tail);
}

/* 报名 N: signs the ticket of a new sign-up with HQ's key (storage thread). */
static void signup_text(struct hqbot_ctx *c, char *out, size_t n)
{
    struct hq *h = c->k->hq;
    const struct hq_bot_event *e = &c->j.events[0];
    char when[48], code[TICKET_CODE_MAX + 1];
    bot_day_time(e->starts_at, when, sizeof when);
    if (c->signup.merged_into[0]) {
        snprintf(out, n, "您已报名：「%s」%s，%s %s。凭手机号即可在网点签到。", e->title, when,
                 e->device, e->venue);
        return;
    }
    struct ticket_payload p = {c->signup.event_id, c->signup.signup_id, c->signup.issued_at};
    if (ticket_sign(&h->ticket, &h->rng, &p, code, sizeof code) != 0) {
        log_warn("hq_bot_ticket_unsigned", "signup=%s:%lld", c->signup.kid,
                 (long long)c->signup.signup_id);
        snprintf(out, n, "报名成功：「%s」%s，%s %s。凭手机号即可在网点签到。", e->title, when,
                 e->device, e->venue);
        return;
    }
    snprintf(out, n,
             "报名成功：「%s」%s，%s %s。入场券：%s（在网点出示即可签到，也可凭手机号签到）",
             e->title, when, e->device, e->venue, code);
}

/* The reply from the job's outcome (storage thread). */
static void reply_text(struct store_hq_bot *j, char *out, size_t n)
{
    struct hqbot_ctx *c = j->arg;
    if (c->greet) {
        snprintf(out, n, "%s", GREETING);
        return;
    }
    switch (j->outcome) {
    case HQ_BOT_NOT_BOUND:
        snprintf(out, n, "%s", NOT_BOUND);
        return;
    case HQ_BOT_BAD_CODE:
        snprintf(out, n,
                 "手机号或绑定码不对，或绑定码已过期。请核对，或向网点或客服索取新的绑定码。");
        return;
    case HQ_BOT_LOCKED:
        snprintf(out, n, "绑定码错误次数太多，请一小时后再试，或到网点办理。");
        return;
    case HQ_BOT_NO_EVENT:
        snprintf(out, n, "没有编号为 %lld 的活动，或报名已结束。发送“活动”查看编号。",
                 (long long)j->event_no);
        return;
    case HQ_BOT_DONE:
        break;
    }
    switch (c->kind) {
    case BOT_POINTS:
        points_text(c, out, n);
        return;
    case BOT_EVENTS:
        events_text(j, out, n);
        return;
    case BOT_SIGNUP:
        signup_text(c, out, n);
        return;
    case BOT_BIND:
        snprintf(out, n, "绑定成功！发送“积分”查询积分，发送“活动”查看近期活动。");
        return;
    case BOT_UNBIND:
        snprintf(out, n, "已解除绑定。需要时可以重新绑定。");
        return;
    case BOT_OPTOUT:
    case BOT_OPTIN:
        snprintf(out, n, "%s", BRANCH_ONLY);
        return;
    case BOT_HELP:
    case BOT_UNKNOWN:
        snprintf(out, n, "%s", HELP);
        return;
    }
}

static void hqbot_free(struct hqbot_ctx *c)
{
    mbedtls_platform_zeroize(c, sizeof *c);
    free(c);
}

static void done(struct store_job *job)
{
    struct hqbot_ctx *c = container_of(job, struct hqbot_ctx, j.job);
    struct req *r = req_resume(&c->wait);
    if (job->rc)
        log_warn("hq_bot_failed", "command=%s error=%s", bot_cmd_name(c->kind),
                 kioskd_strerror(job->rc));
    else
        log_info("hq_bot", "command=%s outcome=%d duplicate=%d", bot_cmd_name(c->kind),
                 (int)c->j.outcome, c->j.duplicate);
    if (r && job->rc)
        req_fail(r, job->rc);
    else if (r)
        c->answer(r, &c->to, c->j.reply);
    hqbot_free(c);
}

/* Fills c's job from the command; false when it is answered without one
 * (reply into out). */
static bool command(struct hqbot_ctx *c, const struct bot_cmd *cmd, char *out, size_t n)
{
    struct kioskd *k = c->k;
    struct store_hq_bot *j = &c->j;
    c->kind = cmd->kind;
    switch (cmd->kind) {
    case BOT_POINTS:
        j->op = HQ_BOT_POINTS;
        return true;
    case BOT_EVENTS:
        j->op = HQ_BOT_EVENTS;
        return true;
    case BOT_SIGNUP:
        if (cmd->event_id <= 0) {
            snprintf(out, n, "%s", bot_signup_usage);
            return false;
        }
        j->op = HQ_BOT_SIGNUP;
        j->event_no = cmd->event_id;
        store_hq_signup_init(&c->signup);
        c->signup.crypto = &k->hq->crypto;
        snprintf(c->signup.kid, sizeof c->signup.kid, "%s", k->hq->ticket.kid);
        snprintf(c->signup.public_pem, sizeof c->signup.public_pem, "%s", k->hq->public_pem);
        snprintf(c->signup.consent_version, sizeof c->signup.consent_version, "%s",
                 CONSENT_VERSION);
        j->signup = &c->signup;
        return true;
    case BOT_BIND: {
        if (!cmd->phone[0] || !cmd->code[0] || !validate_mobile(cmd->phone)) {
            snprintf(out, n, "%s", bot_bind_usage);
            return false;
        }
        unsigned char mac[32];
        bot_keyed(&k->hq->pii, "bind", cmd->code, mac);
        bot_hex(mac, j->code_hash);
        bot_keyed(&k->hq->pii, "bind-phone", cmd->phone, mac);
        bot_hex(mac, j->phone_key);
        snprintf(j->phone, sizeof j->phone, "%s", cmd->phone);
        j->max_failures = (int)k->cfg.bot_bind_failures;
        j->lock_seconds = k->cfg.bot_bind_lock;
        j->op = HQ_BOT_BIND;
        return true;
    }
    case BOT_UNBIND:
        j->op = HQ_BOT_UNBIND;
        return true;
    case BOT_OPTOUT:
    case BOT_OPTIN:
    case BOT_HELP:
    case BOT_UNKNOWN:
        j->op = HQ_BOT_NONE; /* still one job: the delivery's reply is kept */
        return true;
    }
    return true;
}

static void hq_handle(struct req *r, const struct bot_msg *m, bot_answer_fn answer)
{
    struct kioskd *k = r->k;
    struct hqbot_ctx *c = calloc(1, sizeof *c);
    unsigned char mac[32];
    char reply[HQ_BOT_REPLY];
    if (!c) {
        req_fail(r, KIOSKD_ENOMEM);
        return;
    }
    c->k = k;
    c->answer = answer;
    c->to.flags = m->flags | (m->wechat ? 1 : 0);
    snprintf(c->to.from, sizeof c->to.from, "%s", m->from);
    snprintf(c->to.to, sizeof c->to.to, "%s", m->to ? m->to : "");
    store_hq_bot_init(&c->j);
    c->j.crypto = &k->hq->crypto;
    c->j.text = reply_text;
    c->j.arg = c;
    bot_keyed(&k->hq->pii, m->wechat ? "wechat" : "bridge", m->from, mac);
    bot_hex(mac, c->j.identity);
    if (bot_too_many(k, mac)) {
        answer(r, &c->to, bot_too_fast); /* not recorded: a retry later is a new try */
        hqbot_free(c);
        return;
    }
    if (m->key && *m->key) {
        char key[BOT_ID_MAX * 2 + 2];
        snprintf(key, sizeof key, "%s/%s", m->from, m->key);
        bot_keyed(&k->hq->pii, m->wechat ? "wechat-delivery" : "bridge-delivery", key, mac);
        bot_hex(mac, c->j.key);
    }
    struct bot_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    c->greet = m->greet;
    if (!m->greet)
        bot_parse(m->text, m->len, &cmd);
    bool job = command(c, &cmd, reply, sizeof reply);
    mbedtls_platform_zeroize(&cmd, sizeof cmd);
    if (!job) {
        answer(r, &c->to, reply); /* a usage line: nothing read, nothing changed */
        hqbot_free(c);
        return;
    }
    c->j.job.done = done;
    if (req_submit(r, &c->j.job, &c->wait) != 0)
        hqbot_free(c); /* answered with the store's refusal */
}

const struct bot_backend bot_hq = {.name = "hq", .handle = hq_handle};
