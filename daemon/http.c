/*
 * Answering requests: bodies, the contract's error shape, deferral. The lws
 * side (reading requests, writing answers) is in daemon/server.c.
 */
#include "daemon/http.h"

#include <assert.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonv.h"
#include "core/status.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/worker.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <time.h>

const char *req_param(const struct req *r, const char *name)
{
    return route_param(&r->params, name);
}

int query_arg(const char *frag, size_t len, const char *name, char *buf, size_t n, bool *too_long)
{
    size_t nlen = strlen(name);
    *too_long = false;
    if (len < nlen || memcmp(frag, name, nlen) != 0 || (len > nlen && frag[nlen] != '='))
        return 0;
    size_t vlen = len > nlen ? len - nlen - 1 : 0;
    if (vlen >= n) {
        *too_long = true;
        return 1;
    }
    if (vlen > 0)
        memmove(buf, frag + nlen + 1, vlen);
    buf[vlen] = '\0';
    return 1;
}

const char *req_query_fit(struct req *r, const char *name, char *buf, size_t n, bool *too_long)
{
    *too_long = false;
    if (!r->wsi || n < 2 || n > 4096)
        return NULL;
    for (int i = 0; i < 32; i++) {
        int flen = lws_hdr_fragment_length(r->wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (flen <= 0)
            return NULL;
        /* a fragment too long for buf may still be "name=value" whose value fits
         * (copied on the stack, not the heap, so that a failed allocation never
         * reads as a missing argument: lws holds at most 4096 bytes of headers,
         * max_http_header_data) */
        char big[4096 + 1];
        char *frag = (size_t)flen >= n ? big : buf;
        if (frag == big && (size_t)flen >= sizeof big)
            return NULL;
        int cap = frag == buf ? (int)n : flen + 1;
        int got = lws_hdr_copy_fragment(r->wsi, frag, cap, WSI_TOKEN_HTTP_URI_ARGS, i);
        int hit = got >= 0 && query_arg(frag, (size_t)got, name, buf, n, too_long);
        if (hit)
            return *too_long ? NULL : buf;
    }
    return NULL;
}

const char *req_query(struct req *r, const char *name, char *buf, size_t n)
{
    bool too_long;
    return req_query_fit(r, name, buf, n, &too_long);
}

bool req_check(const struct req *r)
{
    if ((r->state == REQ_WAITING) != (r->wait != NULL))
        return false;
    if (r->state < REQ_ANSWERED && (r->out || r->status))
        return false;
    return !r->counted_unwritten || r->state == REQ_ANSWERED;
}

bool req_transition_ok(enum req_state from, enum req_state to)
{
    /* allowed[from] has bit `to` set when from -> to is a transition */
    static const unsigned allowed[] = {
        [REQ_NEW] = 1u << REQ_BODY | 1u << REQ_HANDLER | 1u << REQ_ANSWERED,
        [REQ_BODY] = 1u << REQ_HANDLER | 1u << REQ_ANSWERED,
        [REQ_HANDLER] = 1u << REQ_WAITING | 1u << REQ_ANSWERED,
        [REQ_WAITING] = 1u << REQ_RESUMED,
        [REQ_RESUMED] = 1u << REQ_WAITING | 1u << REQ_ANSWERED,
        [REQ_ANSWERED] = 1u << REQ_WRITTEN,
        [REQ_WRITTEN] = 0,
    };
    return from <= REQ_WRITTEN && to <= REQ_WRITTEN && (allowed[from] & 1u << to);
}

void req_enter(struct req *r, enum req_state to)
{
    assert(req_transition_ok(r->state, to));
    r->state = to;
    assert(req_check(r));
}

static void req_answered(struct req *r)
{
    bool deferred = r->state == REQ_RESUMED;
    req_enter(r, REQ_ANSWERED);
    if (deferred && r->wsi) {
        r->k->unwritten++;
        r->counted_unwritten = true;
        server_answer_deferred(r);
    }
}

void req_reply_take(struct req *r, int status, const char *ctype, char *body, size_t len)
{
    if (r->state >= REQ_ANSWERED) { /* a second answer is a programming error; keep the first */
        free(body);
        return;
    }
    free(r->out);
    r->status = status;
    r->ctype = ctype;
    r->out = body;
    r->out_len = len;
    req_answered(r);
}

void req_reply(struct req *r, int status, const char *ctype, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        /* out of memory: the busy fallback body, as req_json's */
        log_error("answer_unbuilt", "id=%llu status=%d why=out_of_memory",
                  (unsigned long long)r->id, status);
        r->retry_after = 1;
        req_reply_take(r, 503, "application/json", NULL, 0);
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    req_reply_take(r, status, ctype, copy, len);
}

const char req_error_fallback[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"the answer could not be built\"}}";
const char req_busy_fallback[] =
    "{\"error\":{\"code\":\"busy\",\"message\":\"the daemon is short of memory; try again\"}}";

void req_json(struct req *r, int status, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    /* A jansson allocation that failed on this thread since the last answer may have
     * left doc without a member, or (libjansson 2.14) s cut short: neither is sent. */
    bool short_of_memory = !doc || jv_short_of_memory();
    if (s && short_of_memory) {
        free(s);
        s = NULL;
    }
    if (!s) {
        /* out of memory, or text jansson refuses (not UTF-8): req_write sends the
         * matching fallback body */
        log_error("answer_unbuilt", "id=%llu status=%d why=%s", (unsigned long long)r->id, status,
                  short_of_memory ? "out_of_memory" : "unencodable");
        if (short_of_memory)
            r->retry_after = 1;
        req_reply_take(r, short_of_memory ? 503 : 500, "application/json", NULL, 0);
        return;
    }
    req_reply_take(r, status, "application/json", s, strlen(s));
}

void req_error(struct req *r, int status, const char *code, const char *message, json_t *fields)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && fields && json_object_size(fields) > 0)
        json_object_set(err, "fields", fields);
    json_decref(fields);
    req_json(r, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void req_fail(struct req *r, int st)
{
    switch (st) {
    case KIOSKD_EINVAL:
        req_error(r, 422, "invalid", "a field is not valid", NULL);
        break;
    case KIOSKD_EMALFORMED:
        req_error(r, 400, "malformed", "the request could not be understood", NULL);
        break;
    case KIOSKD_ENOTFOUND:
        req_error(r, 404, "not_found", "no such resource", NULL);
        break;
    case KIOSKD_ECONFLICT:
        req_error(r, 409, "conflict", "the request conflicts with the current state", NULL);
        break;
    case KIOSKD_EGONE:
        req_error(r, 410, "gone", "this is closed or over", NULL);
        break;
    case KIOSKD_ETOOBIG:
        req_error(r, 413, "too_large", "the request is too large", NULL);
        break;
    case KIOSKD_EAUTH:
        req_error(r, 401, "unauthorized", "log in first", NULL);
        break;
    case KIOSKD_EFORBIDDEN:
        req_error(r, 403, "forbidden", "your role does not allow this", NULL);
        break;
    case KIOSKD_EBUSY:
        r->retry_after = 1;
        req_error(r, 503, "busy", "the daemon is busy; try again in a moment", NULL);
        break;
    case KIOSKD_ENOMEM:
        r->retry_after = 1;
        req_error(r, 503, "busy", "the daemon is short of memory; try again in a moment", NULL);
        break;
    case KIOSKD_ESHUTDOWN:
        r->retry_after = 5;
        r->close_after = true;
        req_error(r, 503, "shutting_down", "the daemon is restarting; try again shortly", NULL);
        break;
    case KIOSKD_EFULL:
        r->retry_after = 30;
        req_error(r, 503, "disk_full", "the disk is full; nothing was recorded", NULL);
        break;
    case KIOSKD_EIO:
        r->retry_after = 5;
        req_error(r, 503, "storage_unavailable",
                  "the database could not record this; nothing was "
                  "recorded",
                  NULL);
        break;
    case KIOSKD_EREADONLY:
        r->retry_after = 30;
        req_error(r, 503, "storage_read_only",
                  "the database (its folder or files) is read-only; nothing was recorded", NULL);
        break;
    case KIOSKD_EMOVED:
        r->retry_after = 30;
        req_error(r, 503, "storage_missing",
                  "the database folder is gone or was moved; nothing was recorded", NULL);
        break;
    case KIOSKD_ELIMIT:
        req_error(r, 429, "rate_limited", "too many requests; slow down", NULL);
        break;
    default:
        req_error(r, 500, "internal", kioskd_strerror(st), NULL);
        break;
    }
}

void req_header(struct req *r, const char *name, const char *value)
{
    if (r->nhdr < (int)(sizeof r->hdr / sizeof r->hdr[0])) {
        r->hdr[r->nhdr].name = name;
        r->hdr[r->nhdr].value = value;
        r->nhdr++;
    }
}

void *req_calloc(struct req *r, size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        req_fail(r, KIOSKD_ENOMEM);
    return p;
}

void req_defer(struct req *r, struct req_wait *w)
{
    w->req = r;
    r->wait = w;
    r->k->waiting++;
    req_enter(r, REQ_WAITING);
}

struct req *req_resume(struct req_wait *w)
{
    struct req *r = w->req;
    if (!r)
        return NULL;
    w->req = NULL;
    r->wait = NULL;
    r->k->waiting--;
    req_enter(r, REQ_RESUMED);
    return r;
}

int req_submit(struct req *r, struct store_job *job, struct req_wait *w)
{
    int rc = r->k->draining ? KIOSKD_ESHUTDOWN : store_submit(r->k->store, job);
    if (rc) {
        req_fail(r, rc);
        return rc;
    }
    req_defer(r, w);
    return 0;
}

int req_submit_work(struct req *r, struct work *work, struct req_wait *w)
{
    work->gone = &w->gone;
    int rc = r->k->draining ? KIOSKD_ESHUTDOWN : worker_submit(r->k->workers, work);
    if (rc) {
        req_fail(r, rc);
        return rc;
    }
    req_defer(r, w);
    return 0;
}

enum role role_from_name(const char *name)
{
    if (strcmp(name, "staff") == 0)
        return ROLE_STAFF;
    if (strcmp(name, "manager") == 0)
        return ROLE_MANAGER;
    if (strcmp(name, "admin") == 0)
        return ROLE_ADMIN;
    return ROLE_NONE;
}

int auth_token(struct kioskd *k, const char *token, size_t len, struct store_session *session)
{
    unsigned char hash[32];
    if (len < 16 || len > 128)
        return KIOSKD_EAUTH;
    if (mbedtls_sha256_ret((const unsigned char *)token, len, hash, 0) != 0)
        return KIOSKD_EAUTH;
    int rc = store_session_get(k->store, hash, (int64_t)time(NULL), session);
    /* the database failing to answer is no verdict on the token */
    bool unanswered = rc == KIOSKD_EIO || rc == KIOSKD_ENOMEM || rc == KIOSKD_EBUSY;
    return unanswered ? rc : rc ? KIOSKD_EAUTH : 0;
}

int64_t parse_id(const char *s)
{
    int64_t v = 0;
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v > 0 ? v : -1;
}

int64_t req_id(const struct req *r, const char *name)
{
    for (int i = 0; i < r->params.n; i++)
        if (strcmp(r->params.name[i], name) == 0)
            return r->ids[i];
    return 0;
}

bool req_fields_failed(struct req *r, struct jv *v)
{
    if (jv_ok(v))
        return false;
    json_t *fields = v->fields;
    v->fields = NULL;
    req_error(r, 422, "invalid_fields", "some fields are not valid", fields);
    return true;
}

/* --- one-step writes --- */

static void write_free(struct write_ctx *w)
{
    if (w->spec->release)
        w->spec->release(w);
    free(w);
}

static void write_done(struct store_job *job)
{
    struct write_ctx *w = job->arg;
    if (w->spec->again && w->spec->again(w))
        return;
    struct req *r = req_resume(&w->wait);
    if (job->rc == 0 && w->spec->effects)
        w->spec->effects(w);
    if (r) {
        if (job->rc == KIOSKD_EREFUSED && w->spec->refused) {
            req_refuse_with(r, job->why, w->spec->refused(w));
        } else if (job->rc) {
            req_job_failed(r, job);
        } else {
            int status = 200;
            json_t *doc = w->spec->reply(w, &status);
            req_json(r, status, doc);
        }
    }
    write_free(w);
}

int req_write_submit(struct req *r, struct write_ctx *w)
{
    w->job->done = write_done;
    w->job->arg = w;
    if (req_submit(r, w->job, &w->wait) != 0) {
        write_free(w);
        return -1;
    }
    return 0;
}

/* A queued read's audit line is done: the answer went long ago. */
static void read_audit_done(struct store_job *job)
{
    struct write_ctx *w = job->arg;
    if (job->rc)
        log_warn("read_audit_failed", "error=%s", kioskd_strerror(job->rc));
    write_free(w);
}

/* Answers an audited read once its audit line is queued ([store] read_audit =
 * queued): the answer is built first, and sent only if the writer took the job. */
static void write_queued_read(struct req *r, struct write_ctx *w)
{
    int status = 200;
    json_t *doc = w->spec->reply(w, &status);
    w->job->done = read_audit_done;
    w->job->arg = w;
    int rc = !doc             ? KIOSKD_ENOMEM
             : r->k->draining ? KIOSKD_ESHUTDOWN
                              : store_submit(r->k->store, w->job);
    if (rc) {
        json_decref(doc);
        req_fail(r, rc);
        write_free(w);
        return;
    }
    req_json(r, status, doc);
}

static void write_route(struct req *r)
{
    const struct route_write *spec = r->rt->write;
    struct write_ctx *w = req_calloc(r, spec->ctx_size);
    if (!w)
        return;
    w->k = r->k;
    w->spec = spec;
    int rc = spec->fill(r, w);
    if (rc == 0 && !w->job)
        rc = KIOSKD_EINVAL; /* a fill that names no job is a programming error */
    if (rc) {
        if (r->state < REQ_ANSWERED && !(rc == KIOSKD_EINVAL && req_fields_failed(r, &r->json)))
            req_fail(r, rc);
        write_free(w);
        return;
    }
    if (spec->audits_read && strcmp(r->k->cfg.store_read_audit, "queued") == 0)
        write_queued_read(r, w);
    else
        req_write_submit(r, w);
}

void req_dispatch(struct req *r)
{
    const struct route *rt = r->rt;
    for (int i = 0; i < r->params.n; i++) {
        if (rt->ids[i] == WHY_NONE)
            continue;
        r->ids[i] = parse_id(r->params.value[i]);
        if (r->ids[i] < 0) {
            req_refuse(r, rt->ids[i]);
            return;
        }
    }
    if (rt->flags & ROUTE_BODY) {
        size_t len;
        const char *body = req_body(r, &len);
        int rc = jv_parse(&r->json, body, len);
        if (rc == KIOSKD_EMALFORMED) {
            req_error(r, 400, "malformed_json", r->json.error, NULL);
            return;
        }
        if (rc) {
            req_fail(r, rc);
            return;
        }
    }
    if (rt->write)
        write_route(r);
    else
        rt->fn(r);
}

void req_release(struct req *r)
{
    bool secret = r->rt && (r->rt->flags & ROUTE_SECRET);
    if (secret) {
        jv_wipe(&r->json);
        if (r->body.data)
            mbedtls_platform_zeroize(r->body.data, r->body.cap);
    }
    jv_free(&r->json);
    buf_free(&r->body);
}
