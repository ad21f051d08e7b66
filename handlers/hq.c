/*
 * The routes of `kioskd hq` (the reference HQ server; docs/sync.md): the
 * sync protocol (push, pull), the devices list for HQ IT with its page, and
 * /metrics, /healthz. Each sync request's Authorization header and timestamp
 * are checked here; its signature, replay and effect are decided by one
 * store job (store/hq.h), so the loop never waits on the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>
#include <zlib.h>

#include "core/status.h"
#include "daemon/hq.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "handlers/handlers.h"

#define PUSH_BODY_MAX (8 * 1024 * 1024)      /* as sent (gzip or not) */
#define PUSH_INFLATED_MAX (64 * 1024 * 1024) /* after gunzip */
#define PULL_LIMIT_DEFAULT 500
#define PULL_LIMIT_MAX 5000

static int64_t now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* A sync request on its way through the store. */
struct sync_ctx {
    struct req_wait wait;
    struct kioskd *k;
    struct hq_signed sig;
    char *body; /* the push's JSON, inflated; freed with the context */
    bool pull;  /* which of j */
    union {
        struct store_hq_push push;
        struct store_hq_pull pull;
    } j;
};

static void sync_free(struct sync_ctx *c)
{
    if (!c)
        return;
    free(c->body);
    if (c->pull)
        free(c->j.pull.answer);
    free(c);
}

static void unauthorized(struct req *r, const char *code, const char *message)
{
    req_error(r, 401, code, message, NULL);
}

/* Reads the request's Authorization header and checks its timestamp; fills a
 * and c->sig (method, path_and_query). Answers r and returns non-zero when
 * the request cannot go further. */
static int sync_auth(struct req *r, struct sync_ctx *c, struct store_hq_auth *a)
{
    struct kioskd *k = r->k;
    char value[HQSIG_HEADER_MAX + 8], args[256];
    struct hqsig_auth h;
    int n = lws_hdr_copy(r->wsi, value, sizeof value, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0 || hqsig_parse(value, (size_t)n, &h) != 0) {
        k->hq->n.refused_malformed++;
        unauthorized(
            r, "unauthorized",
            "sign the request: Authorization: KIOSKD-HMAC-SHA256 device=ID,ts=UNIX,sig=HEX");
        return -1;
    }
    if (!hqsig_fresh(h.ts, now_seconds(), k->cfg.hqserver_window)) {
        k->hq->n.refused_stale++;
        log_info("hq_refused", "device=%s reason=stale_timestamp skew=%lld", h.device,
                 (long long)(h.ts - now_seconds()));
        unauthorized(r, "stale_timestamp",
                     "the request's timestamp is too far from HQ's clock; check the branch's time");
        return -1;
    }
    memset(a, 0, sizeof *a);
    snprintf(a->device, sizeof a->device, "%s", h.device);
    a->ts = h.ts;
    snprintf(a->sig, sizeof a->sig, "%s", h.sig);
    a->window = k->cfg.hqserver_window;
    a->request = &c->sig;
    snprintf(c->sig.method, sizeof c->sig.method, "%s", http_method_name(r->method));
    /* the query as lws kept it: its arguments in order, joined by '&' (the
     * protocol's queries hold digits and letters only, which lws keeps as sent) */
    size_t used = (size_t)snprintf(c->sig.path, sizeof c->sig.path, "%s", r->path);
    bool too_long = used >= sizeof c->sig.path;
    for (int i = 0; !too_long && (n = lws_hdr_copy_fragment(r->wsi, args, sizeof args,
                                                            WSI_TOKEN_HTTP_URI_ARGS, i)) >= 0;
         i++) {
        int m =
            snprintf(c->sig.path + used, sizeof c->sig.path - used, "%c%s", i ? '&' : '?', args);
        too_long = m < 0 || (size_t)m >= sizeof c->sig.path - used;
        used += too_long ? 0 : (size_t)m;
    }
    if (too_long) {
        req_error(r, 414, "uri_too_long", "the path and query are too long", NULL);
        return -1;
    }
    return 0;
}

/* Answers a verdict other than HQ_OK. */
static void verdict_answer(struct req *r, struct kioskd *k, const struct store_hq_auth *a,
                           enum hq_verdict v, const char *why)
{
    static const char *const names[] = {"ok",       "unknown_device", "bad_signature",
                                        "replayed", "malformed",      "exists"};
    if (v != HQ_MALFORMED)
        log_info("hq_refused", "device=%s reason=%s", a->device, names[v]);
    switch (v) {
    case HQ_UNKNOWN_DEVICE:
        k->hq->n.refused_unknown++;
        unauthorized(r, "unknown_device", "no such device at HQ (kioskd hq device add)");
        return;
    case HQ_BAD_SIGNATURE:
        k->hq->n.refused_signature++;
        unauthorized(r, "bad_signature", "the signature does not match the request");
        return;
    case HQ_REPLAYED:
        k->hq->n.refused_replayed++;
        unauthorized(r, "replayed", "this request was received before; sign each request anew");
        return;
    default:
        k->hq->n.refused_malformed++;
        req_error(r, 400, "malformed", why && *why ? why : "the body is not valid", NULL);
        return;
    }
}

/* Inflates a gzip body into a new buffer of at most max bytes; NULL when it
 * is not gzip or too large. */
static char *gunzip(const char *in, size_t len, size_t max, size_t *outlen)
{
    z_stream zs;
    struct buf out;
    unsigned char chunk[65536];
    int zrc;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return NULL;
    buf_init(&out, max);
    zs.next_in = (unsigned char *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zrc = inflate(&zs, Z_NO_FLUSH);
        if ((zrc != Z_OK && zrc != Z_STREAM_END) ||
            buf_append(&out, chunk, sizeof chunk - zs.avail_out) != 0) {
            inflateEnd(&zs);
            buf_free(&out);
            return NULL;
        }
    } while (zrc != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
    inflateEnd(&zs);
    if (zrc != Z_STREAM_END || zs.avail_in != 0 || (!out.data && buf_append(&out, "", 0) != 0)) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out, outlen);
}

static bool gzipped(struct req *r)
{
    char v[32];
    int n = lws_hdr_copy(r->wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_ENCODING);
    return n == 4 && strncasecmp(v, "gzip", 4) == 0;
}

/* --- POST /sync/v1/push --- */

static void push_done(struct store_job *job)
{
    struct sync_ctx *c = container_of(job, struct sync_ctx, j.push.job);
    struct store_hq_push *p = &c->j.push;
    struct hq *h = c->k->hq;
    if (job->rc == 0 && p->verdict == HQ_OK) {
        h->n.pushes++;
        h->n.entries_received += (uint64_t)p->received;
        h->n.entries_stored += (uint64_t)p->stored;
        log_info("hq_push", "device=%s received=%lld stored=%lld acked_through=%lld",
                 p->auth.device, (long long)p->received, (long long)p->stored,
                 (long long)p->acked_through);
    }
    struct req *r = req_resume(&c->wait);
    if (r) {
        if (job->rc)
            req_fail(r, job->rc);
        else if (p->verdict != HQ_OK)
            verdict_answer(r, c->k, &p->auth, p->verdict, p->why);
        else
            req_json(r, 200,
                     json_pack("{s:I, s:I, s:I}", "acked_through", (json_int_t)p->acked_through,
                               "received", (json_int_t)p->received, "stored",
                               (json_int_t)p->stored));
    }
    sync_free(c);
}

static void sync_push(struct req *r)
{
    struct kioskd *k = r->k;
    struct sync_ctx *c = req_calloc(r, sizeof *c);
    size_t len;
    const char *body = req_body(r, &len);
    if (!c)
        return;
    c->k = k;
    store_hq_push_init(&c->j.push);
    if (sync_auth(r, c, &c->j.push.auth) != 0)
        goto out;
    if (hqsig_body_hash(body, len, c->sig.body_hex) != 0) {
        req_fail(r, KIOSKD_ECRYPTO);
        goto out;
    }
    size_t blen = len;
    if (gzipped(r)) {
        c->body = gunzip(body, len, PUSH_INFLATED_MAX, &blen);
        if (!c->body) {
            k->hq->n.refused_malformed++;
            req_error(r, 400, "malformed", "the body is not gzip, or inflates past 64 MiB", NULL);
            goto out;
        }
    } else {
        c->body = malloc(len + 1);
        if (!c->body) {
            req_fail(r, KIOSKD_ENOMEM);
            goto out;
        }
        memcpy(c->body, body, len);
        c->body[len] = '\0';
    }
    c->j.push.crypto = &k->hq->crypto;
    c->j.push.body = c->body;
    c->j.push.len = blen;
    c->j.push.job.done = push_done;
    if (req_submit(r, &c->j.push.job, &c->wait) == 0)
        return;
out:
    sync_free(c);
}

/* --- GET /sync/v1/pull?since=CURSOR&limit=N --- */

static void pull_done(struct store_job *job)
{
    struct sync_ctx *c = container_of(job, struct sync_ctx, j.pull.job);
    struct store_hq_pull *p = &c->j.pull;
    if (job->rc == 0 && p->verdict == HQ_OK) {
        c->k->hq->n.pulls++;
        c->k->hq->n.changes_sent += (uint64_t)p->count;
        log_info("hq_pull", "device=%s since=%lld changes=%lld", p->auth.device,
                 (long long)p->since, (long long)p->count);
    }
    struct req *r = req_resume(&c->wait);
    if (r) {
        if (job->rc)
            req_fail(r, job->rc);
        else if (p->verdict != HQ_OK)
            verdict_answer(r, c->k, &p->auth, p->verdict, NULL);
        else {
            req_reply_take(r, 200, "application/json", p->answer, p->answer_len);
            p->answer = NULL;
        }
    }
    sync_free(c);
}

/* Parses a decimal in [0, max]; -1 when it is not one. */
static int64_t parse_uint(const char *s, int64_t max)
{
    int64_t x = 0;
    if (!*s || strlen(s) > 18)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        x = x * 10 + (*s - '0');
    }
    return x <= max ? x : -1;
}

static void sync_pull(struct req *r)
{
    struct kioskd *k = r->k;
    char since[32], limit[16];
    bool long_since = false, long_limit = false;
    struct sync_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    c->k = k;
    c->pull = true;
    store_hq_pull_init(&c->j.pull);
    if (sync_auth(r, c, &c->j.pull.auth) != 0)
        goto out;
    if (hqsig_body_hash("", 0, c->sig.body_hex) != 0) {
        req_fail(r, KIOSKD_ECRYPTO);
        goto out;
    }
    const char *s = req_query_fit(r, "since", since, sizeof since, &long_since);
    const char *l = req_query_fit(r, "limit", limit, sizeof limit, &long_limit);
    int64_t from = s && *s ? parse_uint(s, INT64_MAX / 2) : 0;
    int64_t n = l ? parse_uint(l, PULL_LIMIT_MAX) : PULL_LIMIT_DEFAULT;
    if (long_since || from < 0) {
        req_error(r, 400, "malformed", "since is not a cursor this HQ gave", NULL);
        goto out;
    }
    if (long_limit || n < 1) {
        req_error(r, 400, "malformed", "limit must be a whole number from 1 to 5000", NULL);
        goto out;
    }
    c->j.pull.since = from;
    c->j.pull.limit = (int)n;
    c->j.pull.crypto = &k->hq->crypto;
    c->j.pull.job.done = pull_done;
    if (req_submit(r, &c->j.pull.job, &c->wait) == 0)
        return;
out:
    sync_free(c);
}

/* --- GET /hq/v1/devices (Authorization: Bearer [hqserver] admin_token) --- */

struct devices_ctx {
    struct req_wait wait;
    struct store_hq_devices job;
};

/* Compares two strings in time that depends on their lengths only. */
static bool same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char d = alen == blen ? 0 : 1;
    for (size_t i = 0; i < blen; i++)
        d |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return d == 0;
}

static void devices_done(struct store_job *job)
{
    struct devices_ctx *c = container_of(job, struct devices_ctx, job.job);
    struct req *r = req_resume(&c->wait);
    if (r) {
        if (job->rc)
            req_fail(r, job->rc);
        else {
            req_reply_take(r, 200, "application/json", c->job.answer, c->job.answer_len);
            c->job.answer = NULL;
        }
    }
    free(c->job.answer);
    free(c);
}

static void devices_list(struct req *r)
{
    const char *token = r->k->cfg.hqserver_admin_token;
    char auth[300];
    if (!token[0]) {
        req_error(r, 503, "admin_disabled", "HQ has no [hqserver] admin_token set", NULL);
        return;
    }
    int n = lws_hdr_copy(r->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    bool ok = n > 7 && strncasecmp(auth, "Bearer ", 7) == 0 &&
              same_secret(auth + 7, (size_t)n - 7, token, strlen(token));
    mbedtls_platform_zeroize(auth, sizeof auth);
    if (!ok) {
        req_error(r, 401, "unauthorized", "send Authorization: Bearer [hqserver] admin_token",
                  NULL);
        return;
    }
    struct devices_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    store_hq_devices_init(&c->job);
    c->job.job.done = devices_done;
    if (req_submit(r, &c->job.job, &c->wait) != 0)
        free(c);
}

/* --- the page for HQ IT, /metrics, /healthz --- */

static const char devices_page[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><title>kioskd HQ: devices</title>"
    "<style>body{font:15px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:left}"
    "td.n{text-align:right}.late{color:#b00}</style></head><body>"
    "<h1>Branch devices</h1><form id=\"f\"><label>Admin token <input id=\"t\" type=\"password\" "
    "autocomplete=\"off\"></label> <button>Show</button></form><p id=\"m\"></p>"
    "<table id=\"d\" hidden><thead><tr><th>Device</th><th>Entries</th><th>Acked through</th>"
    "<th>Refused requests</th><th>Last seen</th></tr></thead><tbody></tbody></table>"
    "<script>"
    "const f=document.getElementById('f'),t=document.getElementById('t'),"
    "m=document.getElementById('m'),d=document.getElementById('d');"
    "t.value=sessionStorage.getItem('hq_token')||'';"
    "async function show(){sessionStorage.setItem('hq_token',t.value);"
    "const r=await fetch('/hq/v1/devices',{headers:{Authorization:'Bearer '+t.value}});"
    "if(!r.ok){m.textContent='HTTP '+r.status;d.hidden=true;return;}"
    "const j=await r.json(),b=d.tBodies[0];b.textContent='';"
    "for(const x of j.devices){const tr=b.insertRow();"
    "const late=!x.last_seen||Date.now()-Date.parse(x.last_seen)>3600e3;"
    "for(const [v,c] of [[x.device,''],[x.entries,'n'],[x.acked_through,'n'],[x.failures,'n'],"
    "[x.last_seen||'never',late?'late':'']]){const td=tr.insertCell();td.textContent=v;"
    "td.className=c;}}"
    "m.textContent=j.devices.length+' devices';d.hidden=false;}"
    "f.onsubmit=e=>{e.preventDefault();show();};if(t.value)show();"
    "</script></body></html>";

static void page(struct req *r)
{
    req_header(r, "content-security-policy:",
               "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "connect-src 'self'; frame-ancestors 'none'");
    req_reply(r, 200, "text/html; charset=utf-8", devices_page, sizeof devices_page - 1);
}

static void hq_healthz(struct req *r)
{
    struct store_stats ss;
    store_stats(r->k->store, &ss);
    bool ok = store_ping(r->k->store) == 0 && ss.last_commit_rc == 0;
    req_json(r, ok ? 200 : 503,
             json_pack("{s:s, s:s}", "status", ok ? "ok" : "degraded", "db", ok ? "ok" : "error"));
}

static void hq_metrics(struct req *r)
{
    struct store_stats ss;
    struct buf out;
    struct timespec ts;
    const struct hq_counters *n = &r->k->hq->n;
    clock_gettime(CLOCK_REALTIME, &ts);
    store_stats(r->k->store, &ss);
    buf_init(&out, 4 * 1024 * 1024);
    int rc = metrics_render(&r->k->metrics, &r->k->router, &ss,
                            (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, &out);
    if (rc == 0)
        rc = buf_printf(
            &out,
            "# HELP kioskd_hq_pushes_total Pushes accepted.\n# TYPE kioskd_hq_pushes_total "
            "counter\nkioskd_hq_pushes_total %llu\n"
            "# HELP kioskd_hq_pulls_total Pulls answered.\n# TYPE kioskd_hq_pulls_total "
            "counter\nkioskd_hq_pulls_total %llu\n"
            "# HELP kioskd_hq_entries_received_total Entries received in pushes.\n"
            "# TYPE kioskd_hq_entries_received_total counter\n"
            "kioskd_hq_entries_received_total %llu\n"
            "# HELP kioskd_hq_entries_stored_total Entries new to HQ.\n"
            "# TYPE kioskd_hq_entries_stored_total counter\nkioskd_hq_entries_stored_total %llu\n"
            "# HELP kioskd_hq_changes_sent_total Changes sent in pulls.\n"
            "# TYPE kioskd_hq_changes_sent_total counter\nkioskd_hq_changes_sent_total %llu\n"
            "# HELP kioskd_hq_refused_total Sync requests refused, by reason.\n"
            "# TYPE kioskd_hq_refused_total counter\n"
            "kioskd_hq_refused_total{reason=\"malformed\"} %llu\n"
            "kioskd_hq_refused_total{reason=\"stale_timestamp\"} %llu\n"
            "kioskd_hq_refused_total{reason=\"unknown_device\"} %llu\n"
            "kioskd_hq_refused_total{reason=\"bad_signature\"} %llu\n"
            "kioskd_hq_refused_total{reason=\"replayed\"} %llu\n",
            (unsigned long long)n->pushes, (unsigned long long)n->pulls,
            (unsigned long long)n->entries_received, (unsigned long long)n->entries_stored,
            (unsigned long long)n->changes_sent, (unsigned long long)n->refused_malformed,
            (unsigned long long)n->refused_stale, (unsigned long long)n->refused_unknown,
            (unsigned long long)n->refused_signature, (unsigned long long)n->refused_replayed);
    if (rc) {
        buf_free(&out);
        req_fail(r, rc);
        return;
    }
    size_t len;
    char *text = buf_steal(&out, &len);
    req_reply_take(r, 200, "text/plain; version=0.0.4", text, len);
}

const struct route hq_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/sync/v1/push",
     .flags = ROUTE_JSON,
     .body_max = PUSH_BODY_MAX,
     .fn = sync_push},
    {.method = HTTP_GET, .pattern = "/sync/v1/pull", .fn = sync_pull},
    {.method = HTTP_GET, .pattern = "/hq/v1/devices", .fn = devices_list},
    {.method = HTTP_GET, .pattern = "/hq", .fn = page},
    {.method = HTTP_GET, .pattern = "/metrics", .fn = hq_metrics},
    {.method = HTTP_GET, .pattern = "/healthz", .flags = ROUTE_ALWAYS, .fn = hq_healthz},
    {0},
};

/* with the chat bot's channels, answered from HQ's data (handlers/hqbot.c) */
const struct route *const hq_route_tables[] = {hq_routes, wechat_routes, bot_hq_routes, NULL};
