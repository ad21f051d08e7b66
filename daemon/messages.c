/*
 * The messages' loop side (daemon/messages.h).
 *
 * Life of one attempt (struct send), all on the loop:
 *   claim job done -> [worker signs the ticket for its link] -> render ->
 *   channel: log (written at once) | net requests (one per SMS part) ->
 *   every request done -> outcome -> settle job -> done: freed.
 * At most SENDING_MAX attempts are in flight; the sender's timer claims more
 * as they end. At SIGTERM the loop's drain waits for the attempts in flight
 * (messages_in_flight); a transfer still running when it ends is cancelled
 * and settles as "release" (queued again); an attempt whose settle cannot be submitted stays
 * sending in the database and is queued again at the next start (store/messages.h M4).
 */
#include "daemon/messages.h"

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mask.h"
#include "core/msgkind.h"
#include "core/points.h"
#include "core/status.h"
#include "daemon/kioskd.h"
#include "daemon/log.h"
#include "daemon/net.h"
#include "daemon/server.h"
#include "daemon/templates.h"
#include "daemon/worker.h"
#include "store/messages.h"
#include "store/sync.h"

#define SENDING_MAX 32
#define SMS_PARTS_MAX 8
#define WECOM_TEXT_MAX 2048 /* bytes of a robot's text message */
#define SEND_TICK_US (1 * LWS_US_PER_SEC)

/* WeChat's access token (docs/messages.md, "WeChat template messages") */
#define WX_TOKEN_MAX 600              /* WeChat keeps at most 512 characters */
#define WX_EARLY 300                  /* fetched again this long before it expires */
#define WX_MARGIN 60                  /* not used in its last minute */
#define WX_FORCE_GAP 30               /* seconds between forced refreshes */
#define WX_FORCE_DAY 20               /* forced refreshes a China day */
#define WX_TRIES 3                    /* requests of one attempt (a new token between them) */
#define WX_FIELD_CHARS 200            /* a data field's value is cut past this, ending with "…" */
#define WX_TOKEN_STATE "wechat_token" /* channel_state: hex(sealed token), expires_at */
#define WX_FORCED_STATE "wechat_forced" /* channel_state: "YYYY-MM-DD N", the last forced */

struct messenger {
    struct kioskd *k;
    struct templates tpl;
    struct net *net;
    const char *person_channel, *staff_channel;
    bool wechat;
    unsigned wechat_kinds;
    lws_sorted_usec_list_t sched_tick, send_tick;
    bool started;
    bool sched_running, sched_again, recovered;
    bool signups_running, signups_again; /* the sign-ups' own runs (messages_signed_up) */
    int64_t signups_seen;                /* the highest sign-up id a run has looked at */
    bool claim_running;
    int sending; /* attempts in flight */
    /* WeChat's access token: the stable token (normal mode), in clear only
     * here, sealed in channel_state; gen counts the tokens received */
    char wx_token[WX_TOKEN_MAX];
    int64_t wx_expires_at, wx_fetched_at, wx_gen;
    bool wx_fetching;             /* one refresher at a time */
    int64_t wx_forced_at;         /* the last forced refresh */
    int wx_forced_n;              /* forced refreshes on wx_forced_day */
    char wx_forced_day[DATE_LEN]; /* China date */
    struct send *wx_waiting;      /* attempts waiting for the token being fetched */
};

enum verdict { V_SENT, V_RETRY, V_FAILED, V_RELEASE };

struct send {
    struct messenger *ms;
    struct store_msg_out m;
    struct work work; /* the ticket's signature */
    int sign_rc;
    char ticket[TICKET_CODE_LEN + 1];
    char phone[32];
    int parts, pending;
    enum verdict worst;
    char error[160];
    int64_t min_delay; /* a retry waits at least this long (seconds) */
    struct store_msg_settle settle;
    /* WeChat */
    char openid[128];
    char *wx_body;  /* the template message, JSON */
    int64_t wx_gen; /* the token its last request carried */
    int wx_tries;
    struct send *wx_next;
};

static void send_tick(lws_sorted_usec_list_t *sul);

static struct messenger *ms_of(const struct kioskd *k)
{
    return k->messenger;
}

bool messages_sms_on(const struct kioskd *k)
{
    const struct messenger *ms = ms_of(k);
    return ms && ms->person_channel && strcmp(ms->person_channel, "sms") == 0 &&
           k->cfg.bot_public_url[0];
}

const char *messages_person_channel(const struct kioskd *k)
{
    const struct messenger *ms = ms_of(k);
    return ms ? ms->person_channel : NULL;
}

static void wechat_kinds_of(struct messenger *ms)
{
    ms->wechat_kinds = 0;
    for (int kind = 0; kind < MSG_KINDS; kind++)
        if (ms->tpl.t[kind][MSG_WECHAT])
            ms->wechat_kinds |= 1u << kind;
}

/* A template pulled from HQ, stored earlier: it replaces the embedded one
 * and [messages] templates', unless it no longer checks (a newer kioskd). */
static void pulled_at_start(void *arg, const char *name, const char *text, size_t len)
{
    struct messenger *ms = arg;
    char err[256];
    if (templates_replace(&ms->tpl, name, text, len, err, sizeof err) != 0)
        log_warn("hq_template_refused", "name=%s when=start error=\"%s\"", name, err);
}

int messages_template_pulled(struct kioskd *k, const char *name, const char *text, size_t len,
                             char *err, size_t errlen)
{
    struct messenger *ms = ms_of(k);
    if (!ms)
        return 0;
    int rc = templates_replace(&ms->tpl, name, text, len, err, errlen);
    if (rc == 0)
        wechat_kinds_of(ms);
    return rc;
}

int messages_load(struct kioskd *k, char *err, size_t errlen)
{
    struct messenger *ms = calloc(1, sizeof *ms);
    if (!ms) {
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    ms->k = k;
    k->messenger = ms;
    int rc = templates_load(&ms->tpl, k->cfg.messages_templates, err, errlen);
    if (rc)
        return rc;
    if ((rc = store_templates_pulled(k->store, pulled_at_start, ms)) != 0) {
        snprintf(err, errlen, "cannot read the templates pulled from HQ: %s", kioskd_strerror(rc));
        return rc;
    }
    const struct config *c = &k->cfg;
    const char *ch = c->messages_channel;
    if (strcmp(ch, "sms") == 0 && !c->sms_url[0]) {
        snprintf(err, errlen, "[messages] channel = sms needs [sms] url");
        return KIOSKD_ECONFIG;
    }
    if (strcmp(ch, "off") != 0) {
        ms->person_channel = strcmp(ch, "log") == 0 ? "log" : (c->sms_url[0] ? "sms" : "log");
        ms->staff_channel = c->wecom_robot_key[0] ? "wecom" : "log";
        ms->wechat = c->wechat_appid[0] && c->wechat_secret[0];
    }
    wechat_kinds_of(ms);
    return 0;
}

/* --- the scheduler --- */

struct sched_run {
    struct store_msg_schedule job;
    struct messenger *ms;
};

static void sched_tick(lws_sorted_usec_list_t *sul);

static void sched_run(struct messenger *ms, bool signups_only);

static void sched_done(struct store_job *job)
{
    struct sched_run *r = (struct sched_run *)job;
    struct messenger *ms = r->ms;
    bool signups_only = r->job.signups_only;
    bool *running = signups_only ? &ms->signups_running : &ms->sched_running;
    bool *again = signups_only ? &ms->signups_again : &ms->sched_again;
    *running = false;
    if (job->rc) {
        log_warn("messages_schedule_failed", "error=%s", kioskd_strerror(job->rc));
    } else {
        if (r->job.recover)
            ms->recovered = true;
        if (r->job.recovered)
            log_info("messages_recovered", "count=%lld", (long long)r->job.recovered);
        if (r->job.queued)
            log_info("messages_queued", "count=%lld", (long long)r->job.queued);
        if ((r->job.queued || r->job.recovered) && ms->started)
            lws_sul_schedule(ms->k->lws, 0, &ms->send_tick, send_tick, 1);
        if (r->job.more)
            ms->sched_again = true; /* a campaign's step goes on in batches */
        if (r->job.signups_max > ms->signups_seen)
            ms->signups_seen = r->job.signups_max;
    }
    free(r);
    if (*again && ms->started) {
        *again = false;
        if (signups_only)
            sched_run(ms, true);
        else
            lws_sul_schedule(ms->k->lws, 0, &ms->sched_tick, sched_tick, 1);
    }
}

/* signups_only: what the sign-ups after signups_seen are owed, and nothing else */
static void sched_run(struct messenger *ms, bool signups_only)
{
    bool *running = signups_only ? &ms->signups_running : &ms->sched_running;
    if (*running) {
        *(signups_only ? &ms->signups_again : &ms->sched_again) = true;
        return;
    }
    struct sched_run *r = calloc(1, sizeof *r);
    if (!r)
        return;
    store_msg_schedule_init(&r->job);
    r->ms = ms;
    r->job.job.done = sched_done;
    r->job.signups_only = signups_only;
    r->job.signups_after = ms->signups_seen;
    r->job.recover = !signups_only && !ms->recovered;
    r->job.person_channel = ms->person_channel;
    r->job.staff_channel = ms->staff_channel;
    r->job.wechat = ms->wechat;
    r->job.wechat_kinds = ms->wechat_kinds;
    r->job.maturity_days = ms->k->cfg.messages_maturity_days;
    r->job.festivals = ms->k->cfg.campaigns_festival_mask;
    if (store_submit(ms->k->store, &r->job.job) != 0) {
        free(r);
        return; /* the next tick tries again */
    }
    *running = true;
}

static void sched_tick(lws_sorted_usec_list_t *sul)
{
    struct messenger *ms = lws_container_of(sul, struct messenger, sched_tick);
    sched_run(ms, false);
    lws_sul_schedule(ms->k->lws, 0, &ms->sched_tick, sched_tick,
                     (lws_usec_t)ms->k->cfg.messages_interval * LWS_US_PER_SEC);
}

void messages_poke(struct kioskd *k)
{
    struct messenger *ms = ms_of(k);
    if (ms && ms->started && ms->person_channel)
        lws_sul_schedule(k->lws, 0, &ms->sched_tick, sched_tick, 1);
}

void messages_signed_up(struct kioskd *k)
{
    struct messenger *ms = ms_of(k);
    if (ms && ms->started && ms->person_channel)
        sched_run(ms, true);
}

/* --- settling an attempt --- */

static void send_free(struct send *s)
{
    json_decref(s->m.data);
    if (s->wx_body) {
        mbedtls_platform_zeroize(s->wx_body, strlen(s->wx_body));
        free(s->wx_body);
    }
    mbedtls_platform_zeroize(s->openid, sizeof s->openid);
    mbedtls_platform_zeroize(s->phone, sizeof s->phone);
    mbedtls_platform_zeroize(s->ticket, sizeof s->ticket);
    free(s);
}

static void settled(struct store_job *job)
{
    struct send *s = lws_container_of(job, struct send, settle.job);
    struct messenger *ms = s->ms;
    if (job->rc)
        log_warn("message_settle_failed", "id=%lld error=%s", (long long)s->m.id,
                 kioskd_strerror(job->rc));
    ms->sending--;
    send_free(s);
    if (ms->started)
        lws_sul_schedule(ms->k->lws, 0, &ms->send_tick, send_tick, 1);
}

/* Seconds before the next attempt: retry_base * 2^(attempts - 1), at most an
 * hour, times a random factor from 0.75 to 1.25. */
static int64_t backoff(struct kioskd *k, int64_t attempts)
{
    int64_t d = k->cfg.messages_retry_base;
    for (int64_t i = 1; i < attempts && d < 3600; i++)
        d *= 2;
    if (d > 3600)
        d = 3600;
    uint16_t r = 0;
    rng_bytes(&k->rng, &r, sizeof r);
    int64_t jitter = d / 4 > 0 ? (int64_t)(r % (uint16_t)(d / 2 + 1)) - d / 4 : 0;
    return d + jitter > 0 ? d + jitter : 1;
}

static void settle(struct send *s, enum verdict v, const char *error)
{
    struct kioskd *k = s->ms->k;
    const char *kind = msg_kind_name(s->m.kind), *ch = msg_channel_name(s->m.channel);
    store_msg_settle_init(&s->settle);
    s->settle.id = s->m.id;
    s->settle.parts = s->parts;
    if (error)
        snprintf(s->settle.error, sizeof s->settle.error, "%s", error);
    if (v == V_RETRY && s->m.attempts >= k->cfg.messages_max_attempts)
        v = V_FAILED;
    switch (v) {
    case V_SENT:
        s->settle.outcome = MSG_OUT_SENT;
        metrics_add(&k->metrics, MC_MESSAGES_SENT, 1);
        log_info("message_sent", "id=%lld uid=%s kind=%s channel=%s attempt=%lld parts=%d",
                 (long long)s->m.id, s->m.uid, kind, ch, (long long)s->m.attempts, s->parts);
        break;
    case V_RETRY:
        s->settle.outcome = MSG_OUT_RETRY;
        s->settle.delay = backoff(k, s->m.attempts);
        if (s->settle.delay < s->min_delay)
            s->settle.delay = s->min_delay;
        log_info("message_retry", "id=%lld kind=%s channel=%s attempt=%lld in=%lld error=%s",
                 (long long)s->m.id, kind, ch, (long long)s->m.attempts, (long long)s->settle.delay,
                 error ? error : "");
        break;
    case V_FAILED:
        s->settle.outcome = MSG_OUT_FAILED;
        metrics_add(&k->metrics, MC_MESSAGES_FAILED, 1);
        log_warn("message_failed", "id=%lld kind=%s channel=%s attempt=%lld error=%s",
                 (long long)s->m.id, kind, ch, (long long)s->m.attempts, error ? error : "");
        break;
    case V_RELEASE:
        s->settle.outcome = MSG_OUT_RELEASE;
        break;
    }
    s->settle.job.done = settled;
    if (store_submit(k->store, &s->settle.job) != 0) {
        /* stays sending in the database: queued again at the next start */
        s->ms->sending--;
        send_free(s);
    }
}

/* --- channels --- */

static int hmac_hex(const char *key, const char *body, size_t len, char out[65])
{
    unsigned char mac[32];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!md || mbedtls_md_hmac(md, (const unsigned char *)key, strlen(key),
                               (const unsigned char *)body, len, mac) != 0)
        return KIOSKD_ECRYPTO;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

/* Where a part's answer leaves the attempt; the worst of its parts wins. */
static void part_done(struct send *s, enum verdict v, const char *error)
{
    if (v > s->worst || (v == V_RELEASE)) {
        s->worst = v;
        if (error)
            snprintf(s->error, sizeof s->error, "%s", error);
    }
    if (--s->pending > 0)
        return;
    settle(s, s->worst, s->error[0] ? s->error : NULL);
}

/* The verdict on a transfer to the SMS gateway (and a plain-HTTP robot):
 * 2xx sent, 4xx failed for good, 5xx or no answer retried. */
static enum verdict http_verdict(const struct net_req *r, char *err, size_t n)
{
    if (r->rc == KIOSKD_ESHUTDOWN)
        return V_RELEASE;
    if (r->rc) {
        snprintf(err, n, "%s", kioskd_strerror(r->rc));
        return V_RETRY;
    }
    if (r->status >= 200 && r->status < 300)
        return V_SENT;
    snprintf(err, n, "http_%ld", r->status);
    return r->status >= 400 && r->status < 500 ? V_FAILED : V_RETRY;
}

static void sms_done(struct net_req *r)
{
    struct send *s = r->arg;
    char err[64] = "";
    enum verdict v = http_verdict(r, err, sizeof err);
    net_req_free(r);
    part_done(s, v, err);
}

static void wecom_done(struct net_req *r)
{
    struct send *s = r->arg;
    char err[64] = "";
    enum verdict v = http_verdict(r, err, sizeof err);
    if (v == V_SENT) {
        json_error_t je;
        json_t *doc = json_loadb(r->response.data ? r->response.data : "", r->response.len, 0, &je);
        json_int_t code = doc ? json_integer_value(json_object_get(doc, "errcode")) : -1;
        json_decref(doc);
        if (code != 0) {
            snprintf(err, sizeof err, "errcode_%lld", (long long)code);
            /* 45009: over the robot's limit; -1: no readable answer */
            v = code == 45009 || code == -1 ? V_RETRY : V_FAILED;
        }
    }
    net_req_free(r);
    part_done(s, v, err);
}

/* Submits one POST of body (taken) to url (copied) with done; counts a part. */
static int post(struct send *s, const char *url, char *body, const char *sig, net_done_fn done,
                long timeout_s)
{
    struct net_req *r = net_req_new();
    if (!r || !(r->url = strdup(url))) {
        free(body);
        net_req_free(r);
        return KIOSKD_ENOMEM;
    }
    snprintf(r->method, sizeof r->method, "POST");
    r->body = body;
    r->body_len = strlen(body);
    r->timeout_ms = timeout_s * 1000;
    r->response_max = 16 * 1024;
    r->done = done;
    r->arg = s;
    int rc = net_req_header(r, "Content-Type: application/json; charset=utf-8");
    if (rc == 0 && sig) {
        char h[128];
        snprintf(h, sizeof h, "X-Kioskd-Signature: %s", sig);
        rc = net_req_header(r, h);
    }
    if (rc == 0)
        rc = net_submit(s->ms->net, r);
    if (rc) {
        net_req_free(r);
        return rc;
    }
    s->parts++;
    s->pending++;
    return 0;
}

/* Code points of s. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Byte offset of the code point number chars in s (or its end). */
static size_t utf8_offset(const char *s, size_t chars)
{
    size_t i = 0, n = 0;
    while (s[i]) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == chars)
                return i;
            n++;
        }
        i++;
    }
    return i;
}

/* SMS: one request per part. A text over [sms] max_chars characters is split
 * into parts of max_chars - 6 characters, each led by "(i/n)" and sent with
 * the id uid-i (the whole text: uid); more than SMS_PARTS_MAX parts, the last
 * is cut and ends with "…". */
static int send_sms(struct send *s, const char *text)
{
    const struct config *c = &s->ms->k->cfg;
    size_t max = (size_t)c->sms_max_chars, total = utf8_chars(text);
    size_t per = total <= max ? max : max - 6;
    size_t n = (total + per - 1) / per;
    if (n == 0)
        n = 1;
    if (n > SMS_PARTS_MAX)
        n = SMS_PARTS_MAX;
    int rc = 0;
    s->pending = 1; /* held until every part is submitted */
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t from = utf8_offset(text, i * per);
        size_t to = i + 1 == n ? strlen(text) : utf8_offset(text, (i + 1) * per);
        bool cut = i + 1 == n && utf8_chars(text + from) > per;
        if (cut)
            to = from + utf8_offset(text + from, per - 1);
        char part[4096], id[48];
        if (n == 1) {
            snprintf(part, sizeof part, "%.*s", (int)(to - from), text + from);
            snprintf(id, sizeof id, "%s", s->m.uid);
        } else {
            snprintf(part, sizeof part, "(%zu/%zu)%.*s%s", i + 1, n, (int)(to - from), text + from,
                     cut ? "…" : "");
            snprintf(id, sizeof id, "%s-%zu", s->m.uid, i + 1);
        }
        char *body = NULL;
        json_t *doc = json_pack("{s:s, s:s, s:s}", "id", id, "phone", s->phone, "text", part);
        if (doc)
            body = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        char sig[65];
        if (!body)
            rc = KIOSKD_ENOMEM;
        else if ((rc = hmac_hex(c->sms_secret, body, strlen(body), sig)) != 0)
            free(body);
        else
            rc = post(s, c->sms_url, body, sig, sms_done, (long)c->sms_timeout);
    }
    return rc;
}

/* WeCom robot: one text message; a text over 2048 bytes is cut at a character
 * boundary and ends with "…". */
static int send_wecom(struct send *s, const char *text)
{
    const struct config *c = &s->ms->k->cfg;
    char content[WECOM_TEXT_MAX + 1];
    size_t len = strlen(text);
    if (len > WECOM_TEXT_MAX) {
        size_t cut = WECOM_TEXT_MAX - 3;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--;
        snprintf(content, sizeof content, "%.*s…", (int)cut, text);
    } else {
        snprintf(content, sizeof content, "%s", text);
    }
    json_t *doc = json_pack("{s:s, s:{s:s}}", "msgtype", "text", "text", "content", content);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body)
        return KIOSKD_ENOMEM;
    char url[1024];
    snprintf(url, sizeof url, "%s/cgi-bin/webhook/send?key=%s", c->wecom_api_url,
             c->wecom_robot_key);
    s->pending = 1;
    int rc = post(s, url, body, NULL, wecom_done, 10);
    mbedtls_platform_zeroize(url, sizeof url);
    return rc;
}

/* The log channel: the text with the phone masked and no ticket link. */
static void send_log(struct send *s, const char *text)
{
    char masked[32], esc[4096];
    mask_phone(s->phone, masked, sizeof masked);
    log_info("message", "id=%lld uid=%s kind=%s channel=log to=%s text=%s", (long long)s->m.id,
             s->m.uid, msg_kind_name(s->m.kind), masked[0] ? masked : "staff",
             log_escape(esc, sizeof esc, text));
    s->parts = 1;
    settle(s, V_SENT, NULL);
}

/* --- WeChat template messages --- */

static void wx_post(struct send *s);

/* The time of day for the WeChat token and its forced refreshes, in step with
 * the store's jobs under KIOSKD_TEST_CLOCK. */
static int64_t wall_s(const struct messenger *ms)
{
    return (int64_t)time(NULL) + ms->k->test_clock;
}

static void state_put_done(struct store_job *job)
{
    struct store_channel_put *j = (struct store_channel_put *)job;
    if (job->rc)
        log_warn("channel_state_failed", "name=%s error=%s", j->name, kioskd_strerror(job->rc));
    mbedtls_platform_zeroize(j->value, sizeof j->value);
    free(j);
}

static void state_put(struct messenger *ms, const char *name, const char *value, int64_t expires_at)
{
    struct store_channel_put *j = malloc(sizeof *j);
    if (!j)
        return;
    store_channel_put_init(j);
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->value, sizeof j->value, "%s", value);
    j->expires_at = expires_at;
    j->job.done = state_put_done;
    if (store_submit(ms->k->store, &j->job) != 0)
        free(j); /* kept in memory; fetched again after a restart */
}

/* Keeps the token sealed (aad "wechat_token") in channel_state. */
static void wx_token_save(struct messenger *ms)
{
    struct kioskd *k = ms->k;
    unsigned char sealed[WX_TOKEN_MAX + PII_OVERHEAD];
    size_t len;
    if (pii_seal(&k->pii, &k->rng, WX_TOKEN_STATE, ms->wx_token, strlen(ms->wx_token), sealed,
                 sizeof sealed, &len) != 0)
        return;
    char hex[2 * sizeof sealed + 1];
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", sealed[i]);
    state_put(ms, WX_TOKEN_STATE, hex, ms->wx_expires_at);
}

/* Reads the token and the forced refreshes kept by an earlier run (at start). */
static void wx_state_load(struct messenger *ms)
{
    struct kioskd *k = ms->k;
    char hex[2 * (WX_TOKEN_MAX + PII_OVERHEAD) + 1];
    int64_t expires_at, updated_at;
    if (store_channel_state(k->store, WX_TOKEN_STATE, hex, sizeof hex, &expires_at, &updated_at) ==
            0 &&
        expires_at > wall_s(ms) + WX_MARGIN) {
        unsigned char sealed[WX_TOKEN_MAX + PII_OVERHEAD];
        size_t n = strlen(hex) / 2, len;
        bool ok = n <= sizeof sealed;
        for (size_t i = 0; ok && i < n; i++) {
            unsigned v;
            ok = sscanf(hex + 2 * i, "%2x", &v) == 1;
            sealed[i] = (unsigned char)v;
        }
        if (ok && pii_open(&k->pii, WX_TOKEN_STATE, sealed, n, ms->wx_token, sizeof ms->wx_token,
                           &len) == 0) {
            ms->wx_expires_at = expires_at;
            ms->wx_gen++;
        } else {
            ms->wx_token[0] = '\0';
        }
    }
    mbedtls_platform_zeroize(hex, sizeof hex);
    char v[32];
    if (store_channel_state(k->store, WX_FORCED_STATE, v, sizeof v, &expires_at, &updated_at) ==
            0 &&
        sscanf(v, "%10s %d", ms->wx_forced_day, &ms->wx_forced_n) == 2)
        ms->wx_forced_at = expires_at;
    else
        ms->wx_forced_day[0] = '\0', ms->wx_forced_n = 0;
}

/* Whether a forced refresh may run now (20 a China day, 30 s apart); when
 * not, *until says when one may. */
static bool wx_may_force(struct messenger *ms, int64_t now, int64_t *until)
{
    char today[DATE_LEN];
    points_china_date(now, today);
    if (strcmp(today, ms->wx_forced_day) != 0) {
        snprintf(ms->wx_forced_day, sizeof ms->wx_forced_day, "%s", today);
        ms->wx_forced_n = 0;
    }
    if (ms->wx_forced_n >= WX_FORCE_DAY) {
        *until = (now + 8 * 3600) / 86400 * 86400 + 86400 - 8 * 3600; /* China midnight */
        return false;
    }
    if (now - ms->wx_forced_at < WX_FORCE_GAP) {
        *until = ms->wx_forced_at + WX_FORCE_GAP;
        return false;
    }
    return true;
}

/* Ends every attempt waiting for the token: posts them with it (ok), or
 * retries them later with error. */
static void wx_release(struct messenger *ms, bool ok, enum verdict v, const char *error)
{
    struct send *w = ms->wx_waiting;
    ms->wx_waiting = NULL;
    while (w) {
        struct send *next = w->wx_next;
        w->wx_next = NULL;
        if (ok) {
            wx_post(w);
        } else {
            w->parts = 1;
            settle(w, v, error);
        }
        w = next;
    }
}

static void wx_fetched(struct net_req *r)
{
    struct messenger *ms = r->arg;
    ms->wx_fetching = false;
    char err[64] = "", why[80] = "";
    enum verdict v = http_verdict(r, err, sizeof err);
    bool ok = false;
    if (v == V_SENT) {
        json_error_t je;
        json_t *doc = json_loadb(r->response.data ? r->response.data : "", r->response.len, 0, &je);
        const char *token = json_string_value(json_object_get(doc, "access_token"));
        json_int_t expires_in = json_integer_value(json_object_get(doc, "expires_in"));
        if (token && *token && strlen(token) < sizeof ms->wx_token && expires_in > 0) {
            int64_t now = wall_s(ms);
            snprintf(ms->wx_token, sizeof ms->wx_token, "%s", token);
            ms->wx_expires_at = now + expires_in;
            ms->wx_fetched_at = now;
            ms->wx_gen++;
            ok = true;
        } else {
            json_int_t code = doc ? json_integer_value(json_object_get(doc, "errcode")) : -1;
            snprintf(why, sizeof why, "token_errcode_%lld", (long long)(code ? code : -1));
            v = V_RETRY;
        }
        if (doc) {
            json_t *t = json_object_get(doc, "access_token");
            if (json_is_string(t))
                mbedtls_platform_zeroize((char *)json_string_value(t),
                                         strlen(json_string_value(t)));
        }
        json_decref(doc);
    } else if (v != V_RELEASE) {
        snprintf(why, sizeof why, "token_%s", err);
        v = V_RETRY;
    }
    if (r->response.data)
        mbedtls_platform_zeroize(r->response.data, r->response.len);
    net_req_free(r);
    if (ok) {
        log_info("wechat_token", "expires_in=%lld", (long long)(ms->wx_expires_at - wall_s(ms)));
        wx_token_save(ms);
    } else if (v != V_RELEASE) {
        log_warn("wechat_token_failed", "error=%s", why);
    }
    wx_release(ms, ok, v, why);
}

/* Fetches the token (the one refresher: nothing when a fetch runs). A forced
 * refresh is counted and kept. 0, or an error (nothing submitted). */
static int wx_fetch(struct messenger *ms, bool force)
{
    if (ms->wx_fetching)
        return 0;
    const struct config *c = &ms->k->cfg;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:b}", "grant_type", "client_credential", "appid",
                            c->wechat_appid, "secret", c->wechat_secret, "force_refresh", force);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    struct net_req *r = net_req_new();
    char url[1024];
    snprintf(url, sizeof url, "%s/cgi-bin/stable_token", c->wechat_api_url);
    if (!body || !r || !(r->url = strdup(url))) {
        free(body);
        net_req_free(r);
        return KIOSKD_ENOMEM;
    }
    snprintf(r->method, sizeof r->method, "POST");
    r->body = body;
    r->body_len = strlen(body);
    r->timeout_ms = 10000;
    r->response_max = 16 * 1024;
    r->done = wx_fetched;
    r->arg = ms;
    int rc = net_req_header(r, "Content-Type: application/json; charset=utf-8");
    if (rc == 0)
        rc = net_submit(ms->net, r);
    if (rc) {
        mbedtls_platform_zeroize(r->body, r->body_len);
        net_req_free(r);
        return rc;
    }
    ms->wx_fetching = true;
    if (force) {
        int64_t now = wall_s(ms), until;
        (void)wx_may_force(ms, now, &until); /* rolls the day over */
        ms->wx_forced_at = now;
        ms->wx_forced_n++;
        char v[32];
        snprintf(v, sizeof v, "%s %d", ms->wx_forced_day, ms->wx_forced_n);
        state_put(ms, WX_FORCED_STATE, v, now);
        log_info("wechat_token_refresh", "forced=1 today=%d", ms->wx_forced_n);
    }
    return 0;
}

/* s waits for the token being fetched (start one with wx_fetch). */
static void wx_wait(struct send *s)
{
    s->wx_next = s->ms->wx_waiting;
    s->ms->wx_waiting = s;
}

/* Waits for a token (a fetch) or settles s for a retry when none can start. */
static void wx_wait_fetch(struct send *s, bool force)
{
    wx_wait(s);
    int rc = wx_fetch(s->ms, force);
    if (rc)
        wx_release(s->ms, false, rc == KIOSKD_ESHUTDOWN ? V_RELEASE : V_RETRY, kioskd_strerror(rc));
}

static void wechat_done(struct net_req *r)
{
    struct send *s = r->arg;
    struct messenger *ms = s->ms;
    char err[64] = "";
    enum verdict v = http_verdict(r, err, sizeof err);
    json_int_t code = -1;
    if (v == V_SENT) {
        json_error_t je;
        json_t *doc = json_loadb(r->response.data ? r->response.data : "", r->response.len, 0, &je);
        json_t *e = json_object_get(doc, "errcode");
        code = json_is_integer(e) ? json_integer_value(e) : -1;
        json_decref(doc);
    }
    net_req_free(r);
    s->parts = 1;
    if (v != V_SENT) {
        settle(s, v, err);
        return;
    }
    if (code == 0) {
        settle(s, V_SENT, NULL);
        return;
    }
    snprintf(err, sizeof err, "errcode_%lld", (long long)code);
    if (code == -1) { /* WeChat busy, or no readable answer */
        settle(s, V_RETRY, err);
        return;
    }
    if (code != 40001 && code != 42001) {
        settle(s, V_FAILED, err);
        return;
    }
    /* the token was refused: a newer one, the one being fetched, or a forced refresh */
    int64_t now = wall_s(ms), until = 0;
    if (++s->wx_tries >= WX_TRIES) {
        settle(s, V_RETRY, err);
    } else if (ms->wx_fetching) {
        wx_wait(s);
    } else if (s->wx_gen != ms->wx_gen && ms->wx_token[0] && now < ms->wx_expires_at) {
        wx_post(s);
    } else if (wx_may_force(ms, now, &until)) {
        ms->wx_token[0] = '\0';
        wx_wait_fetch(s, true);
    } else {
        s->min_delay = until - now > 1 ? until - now : 1;
        settle(s, V_RETRY, err);
    }
}

/* Posts s's template message with the current token. */
static void wx_post(struct send *s)
{
    struct messenger *ms = s->ms;
    const struct config *c = &ms->k->cfg;
    size_t n = strlen(c->wechat_api_url) + strlen(ms->wx_token) + 64;
    char *url = malloc(n);
    char *body = url ? strdup(s->wx_body) : NULL;
    int rc = KIOSKD_ENOMEM;
    if (body) {
        snprintf(url, n, "%s/cgi-bin/message/%s/send?access_token=%s", c->wechat_api_url,
                 s->m.kind == MSG_CHAT_REPLY ? "custom" : "template", ms->wx_token);
        s->wx_gen = ms->wx_gen;
        rc = post(s, url, body, NULL, wechat_done, 10);
        mbedtls_platform_zeroize(url, strlen(url));
    }
    free(url);
    if (rc) {
        s->parts = 1;
        settle(s, rc == KIOSKD_ESHUTDOWN ? V_RELEASE : V_RETRY, kioskd_strerror(rc));
    }
}

/* Copies text into out (cap bytes), cut after max characters with "…". */
static void wx_cut(const char *text, char *out, size_t cap, size_t max)
{
    if (utf8_chars(text) <= max) {
        snprintf(out, cap, "%s", text);
        return;
    }
    size_t to = utf8_offset(text, max - 1);
    snprintf(out, cap, "%.*s…", (int)to, text);
}

static void wx_go(struct send *s);

/*
 * A chat reply past WeChat's 5 seconds, as a customer-service text message:
 * touser, msgtype text, text.content (the reply, as the passive reply would
 * have carried it).
 *
 * At least once, on purpose. The customer-service API takes no
 * client_msg_id, so WeChat cannot drop a copy: when kioskd stops (a crash, a
 * power cut, the transfer's timeout) after WeChat accepted the message but
 * before its settle committed, the message is still `sending`, is queued
 * again at the next start (M4) and the member gets the same text twice.
 * Recording it sent before the request instead would lose it for good in the
 * same window, and this reply is often the only answer to a command that
 * changed something (a sign-up, an opt-out): a repeated identical text is
 * the lesser harm. A repeat is logged (chat_reply_again) so it can be told.
 */
static void send_custom(struct send *s)
{
    struct kioskd *k = s->ms->k;
    size_t len;
    if (s->m.attempts > 1) /* an earlier attempt may have reached the member */
        log_info("chat_reply_again", "id=%lld attempt=%lld may_repeat=1", (long long)s->m.id,
                 (long long)s->m.attempts);
    const char *text = json_string_value(json_object_get(s->m.data, "text"));
    if (!text || !*text) {
        settle(s, V_FAILED, "no_text");
        return;
    }
    if (pii_open(&k->pii, "openid", s->m.openid_enc, s->m.openid_enc_len, s->openid,
                 sizeof s->openid - 1, &len) != 0) {
        settle(s, V_FAILED, "openid_unreadable");
        return;
    }
    s->openid[len] = '\0';
    json_t *doc = json_pack("{s:s, s:s, s:{s:s}}", "touser", s->openid, "msgtype", "text", "text",
                            "content", text);
    s->wx_body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    wx_go(s);
}

/* A WeChat template message: touser, template_id, data from the template's
 * fields, client_msg_id the message's uid (WeChat drops a resend), url the
 * ticket link when there is one. Goes when a token is at hand. */
static void send_wechat(struct send *s, const struct tpl *t, json_t *d)
{
    struct messenger *ms = s->ms;
    struct kioskd *k = ms->k;
    size_t len;
    if (pii_open(&k->pii, "openid", s->m.openid_enc, s->m.openid_enc_len, s->openid,
                 sizeof s->openid, &len) != 0) {
        settle(s, V_FAILED, "openid_unreadable");
        return;
    }
    json_t *data = json_object();
    for (int i = 0; data && i < t->nfields; i++) {
        char *v = NULL, cut[WX_FIELD_CHARS * 4 + 4];
        if (tpl_render(t->fields[i].t, d, &v) != 0) {
            json_decref(data);
            data = NULL;
            break;
        }
        wx_cut(v, cut, sizeof cut, WX_FIELD_CHARS);
        free(v);
        json_object_set_new(data, t->fields[i].name, json_pack("{s:s}", "value", cut));
    }
    if (!data) {
        settle(s, V_FAILED, "render_failed");
        return;
    }
    json_t *doc = json_pack("{s:s, s:s, s:o, s:s}", "touser", s->openid, "template_id",
                            t->template_id, "data", data, "client_msg_id", s->m.uid);
    const char *link = json_string_value(json_object_get(d, "ticket_link"));
    if (doc && link && s->ticket[0])
        json_object_set_new(doc, "url", json_string(link));
    s->wx_body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    wx_go(s);
}

/* Posts s->wx_body when a token is at hand, else after one is fetched. */
static void wx_go(struct send *s)
{
    struct messenger *ms = s->ms;
    if (!s->wx_body) {
        settle(s, V_RETRY, kioskd_strerror(KIOSKD_ENOMEM));
        return;
    }
    int64_t now = wall_s(ms);
    if (ms->wx_token[0] && now < ms->wx_expires_at - WX_MARGIN) {
        if (now >= ms->wx_expires_at - WX_EARLY && now - ms->wx_fetched_at >= WX_MARGIN)
            (void)wx_fetch(ms, false); /* early, in the background */
        wx_post(s);
        return;
    }
    wx_wait_fetch(s, false);
}

/* Renders s's text and hands it to its channel. */
static void send_go(struct send *s)
{
    struct messenger *ms = s->ms;
    struct kioskd *k = ms->k;
    if (s->m.kind == MSG_CHAT_REPLY) {
        if (s->m.channel == MSG_WECHAT && ms->wechat)
            send_custom(s);
        else
            settle(s, V_FAILED, "wechat_off");
        return;
    }
    const struct tpl *t =
        templates_get(&ms->tpl, (enum msg_kind)s->m.kind, (enum msg_channel)s->m.channel);
    if (!t) {
        settle(s, V_FAILED, "no_template");
        return;
    }
    json_t *d = s->m.data;
    if (s->ticket[0] && s->m.channel != MSG_LOG) {
        char link[512];
        snprintf(link, sizeof link, "%s/t/%s", k->cfg.bot_public_url, s->ticket);
        json_object_set_new(d, "ticket_link", json_string(link));
    } else if (s->ticket[0]) {
        json_object_set_new(d, "ticket_link", json_string("[ticket link]"));
    }
    const char *path = json_string_value(json_object_get(d, "link"));
    if (s->m.kind == MSG_INVITATION && path) {
        char link[512]; /* an invitation's link: the kiosk page with the campaign's code */
        snprintf(link, sizeof link, "%s%s", k->cfg.bot_public_url, path);
        json_object_set_new(d, "link", json_string(link));
    }
    if (s->m.channel == MSG_WECHAT) {
        send_wechat(s, t, d);
        return;
    }
    char *text = NULL;
    int rc = tpl_render(t->body, d, &text);
    if (rc) {
        settle(s, V_FAILED, "render_failed");
        return;
    }
    switch (s->m.channel) {
    case MSG_LOG:
        send_log(s, text);
        rc = 0;
        break;
    case MSG_SMS:
        rc = send_sms(s, text);
        break;
    case MSG_WECOM:
        rc = send_wecom(s, text);
        break;
    default:
        rc = KIOSKD_EINVAL;
        break;
    }
    mbedtls_platform_zeroize(text, strlen(text));
    free(text);
    if (rc && s->m.channel != MSG_LOG) {
        /* parts already handed over still end the attempt; the rest counts as lost */
        if (s->parts > 0)
            part_done(s, rc == KIOSKD_ESHUTDOWN ? V_RELEASE : V_RETRY, kioskd_strerror(rc));
        else
            settle(s, rc == KIOSKD_ESHUTDOWN ? V_RELEASE : V_RETRY, kioskd_strerror(rc));
    } else if (s->m.channel != MSG_LOG) {
        part_done(s, V_SENT, NULL); /* releases the hold of send_sms / send_wecom */
    }
}

static void ticket_sign_run(struct work *w, struct worker_ctx *ctx)
{
    struct send *s = lws_container_of(w, struct send, work);
    struct ticket_payload p = {s->m.ticket_event, s->m.ticket_signup, s->m.ticket_issued};
    s->sign_rc = ticket_sign(&ctx->sign_key, &ctx->rng, &p, s->ticket, sizeof s->ticket);
}

static void ticket_signed(struct work *w)
{
    struct send *s = lws_container_of(w, struct send, work);
    if (w->rc || s->sign_rc)
        s->ticket[0] = '\0'; /* the message goes without its link */
    send_go(s);
}

/* Starts the attempt of one claimed message (takes m's data). */
static void send_start(struct messenger *ms, struct store_msg_out *m)
{
    struct kioskd *k = ms->k;
    struct send *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(m->data);
        return; /* stays sending: queued again at the next start */
    }
    s->ms = ms;
    s->m = *m;
    m->data = NULL;
    ms->sending++;
    if (s->m.phone_enc_len) {
        size_t len;
        if (pii_open(&k->pii, "phone", s->m.phone_enc, s->m.phone_enc_len, s->phone,
                     sizeof s->phone, &len) != 0) {
            settle(s, V_FAILED, "phone_unreadable");
            return;
        }
    }
    if (s->m.ticket_signup && k->cfg.bot_public_url[0]) {
        s->work.run = ticket_sign_run;
        s->work.done = ticket_signed;
        if (worker_submit(k->workers, &s->work) == 0)
            return;
    }
    send_go(s);
}

/* --- the sender --- */

struct claim_run {
    struct store_msg_claim job;
    struct messenger *ms;
};

static void claimed(struct store_job *job)
{
    struct claim_run *c = (struct claim_run *)job;
    struct messenger *ms = c->ms;
    ms->claim_running = false;
    if (job->rc) {
        log_warn("messages_claim_failed", "error=%s", kioskd_strerror(job->rc));
    } else {
        for (int i = 0; i < c->job.n; i++)
            send_start(ms, &c->job.out[i]);
    }
    store_msg_claim_release(&c->job);
    free(c);
}

static void send_tick(lws_sorted_usec_list_t *sul)
{
    struct messenger *ms = lws_container_of(sul, struct messenger, send_tick);
    struct kioskd *k = ms->k;
    if (!ms->claim_running && ms->recovered && ms->sending < SENDING_MAX && !k->draining) {
        struct claim_run *c = calloc(1, sizeof *c);
        if (c) {
            store_msg_claim_init(&c->job);
            c->ms = ms;
            c->job.job.done = claimed;
            c->job.limit = SENDING_MAX - ms->sending;
            c->job.quiet_from = k->cfg.messages_quiet_from;
            c->job.quiet_to = k->cfg.messages_quiet_to;
            c->job.daily_cap = k->cfg.messages_daily_cap;
            c->job.wecom_per_minute = k->cfg.wecom_per_minute;
            c->job.person_channel = ms->person_channel;
            if (store_submit(k->store, &c->job.job) == 0)
                ms->claim_running = true;
            else
                free(c);
        }
    }
    lws_sul_schedule(k->lws, 0, &ms->send_tick, send_tick, SEND_TICK_US);
}

bool messages_chat_replies_on(const struct kioskd *k)
{
    const struct messenger *ms = ms_of(k);
    return ms && ms->started && ms->wechat;
}

void messages_send_soon(struct kioskd *k)
{
    struct messenger *ms = ms_of(k);
    if (ms && ms->started)
        lws_sul_schedule(k->lws, 0, &ms->send_tick, send_tick, 1);
}

bool messages_on(const struct kioskd *k)
{
    const struct messenger *ms = ms_of(k);
    return ms && (ms->person_channel || ms->staff_channel);
}

int messages_start(struct kioskd *k, char *err, size_t errlen)
{
    struct messenger *ms = ms_of(k);
    if (!messages_on(k)) {
        log_info("messages_started", "people=off staff=off wechat=off");
        return 0; /* [messages] channel = off: no timers, no jobs, no thread */
    }
    ms->net = k->net;
    if (!ms->net) {
        snprintf(err, errlen, "messages need the net thread");
        return KIOSKD_EINVAL;
    }
    ms->started = true;
    if (ms->wechat)
        wx_state_load(ms);
    sched_tick(&ms->sched_tick);
    lws_sul_schedule(k->lws, 0, &ms->send_tick, send_tick, SEND_TICK_US);
    log_info("messages_started", "people=%s staff=%s wechat=%s",
             ms->person_channel ? ms->person_channel : "off",
             ms->staff_channel ? ms->staff_channel : "off", ms->wechat ? "on" : "off");
    return 0;
}

void messages_stop(struct kioskd *k)
{
    struct messenger *ms = ms_of(k);
    if (!ms || !ms->started)
        return;
    ms->started = false;
    if (k->lws) {
        lws_sul_cancel(&ms->sched_tick);
        lws_sul_cancel(&ms->send_tick);
    }
    mbedtls_platform_zeroize(ms->wx_token, sizeof ms->wx_token);
}

int messages_in_flight(const struct kioskd *k)
{
    const struct messenger *ms = ms_of(k);
    return ms && ms->started ? ms->sending : 0;
}

void messages_free(struct kioskd *k)
{
    struct messenger *ms = ms_of(k);
    if (!ms)
        return;
    templates_free(&ms->tpl);
    free(ms);
    k->messenger = NULL;
}
