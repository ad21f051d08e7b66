/*
 * libwebsockets glue for HTTP. Per request (struct req, lws' per-session
 * data, freed by lws after every keep-alive transaction):
 *
 *   LWS_CALLBACK_HTTP             parse method and path, route, rate limit,
 *                                 check Content-Length/-Type; dispatch now
 *                                 (no body) or wait for the body
 *   LWS_CALLBACK_HTTP_BODY        append to r->body (bounded by the route)
 *   ..._BODY_COMPLETION           dispatch (once; a repeat hangs up)
 *   handler                       answers at once, or defers on a req_wait
 *   LWS_CALLBACK_EVENT_WAIT_CANCELLED  other threads finished work: run the
 *                                 completions, which answer deferred requests
 *   LWS_CALLBACK_HTTP_WRITEABLE   write a deferred answer when it is ready
 *   LWS_CALLBACK_HTTP_DROP_PROTOCOL  the req is about to be freed: orphan
 *                                 any work still holding it, free buffers
 *
 * An answer is written in one lws_write (headers and body) and the
 * transaction completed, so keep-alive continues.
 */
#include "daemon/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <libwebsockets.h>
#include <math.h>
#include <mbedtls/platform_util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"
#include "daemon/hqsync.h"
#include "daemon/http.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/messages.h"
#include "daemon/net.h"
#include "daemon/worker.h"

#define DEFERRED_TIMEOUT_S 30
#define DRAIN_SECONDS 2.0
#define BODY_GRACE_S 2.0 /* a body may start slowly; then [http] min_body_rate applies */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void server_wake(void *arg)
{
    struct kioskd *k = arg;
    if (k->lws)
        lws_cancel_service(k->lws);
}

/* The contract's error shape, sent on a connection refused at accept. */
#define REFUSE_BODY(code, msg) "{\"error\":{\"code\":\"" code "\",\"message\":\"" msg "\"}}"

/* Answers a refused connection in one non-blocking send (a few hundred bytes
 * always fit an empty socket buffer) and discards what it already sent, so
 * that closing it does not reset the answer away. */
static void refuse_connection(int fd, enum conn_verdict why)
{
    const char *status =
        why == CONN_ADDRESS_FULL ? "429 Too Many Requests" : "503 Service Unavailable";
    const char *body =
        why == CONN_ADDRESS_FULL
            ? REFUSE_BODY("too_many_connections", "this address has too many connections open")
            : REFUSE_BODY("busy", "too many connections; try again shortly");
    char scratch[4096], head[512];
    while (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0)
        ;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
                     "retry-after: 1\r\nconnection: close\r\n\r\n%s",
                     status, strlen(body), body);
    if (n > 0 && (size_t)n < sizeof head &&
        send(fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        shutdown(fd, SHUT_WR);
}

/* LWS_CALLBACK_FILTER_NETWORK_CONNECTION: counts the new connection against
 * [http] max_connections and max_per_address; returns non-zero to refuse it. */
static int conn_accept(struct kioskd *k, const struct lws_filter_network_conn_args *filt)
{
    unsigned char addr[CONN_ADDR_LEN] = {0};
    if (filt->cli_addr.ss_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)&filt->cli_addr)->sin6_addr, CONN_ADDR_LEN);
    } else {
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &((const struct sockaddr_in *)&filt->cli_addr)->sin_addr, 4);
    }
    /* a connection counted but never adopted (lws failed it in between) */
    connlimit_put(&k->conns, k->conn_pending);
    k->conn_pending = NULL;
    enum conn_verdict v = connlimit_take(&k->conns, addr, &k->conn_pending);
    if (v == CONN_OK)
        return 0;
    metrics_add(&k->metrics, MC_RATE_LIMITED, 1);
    log_info("connection_refused", "reason=%s open=%d",
             v == CONN_ADDRESS_FULL ? "per_address" : "max_connections", k->conns.total);
    refuse_connection(filt->accept_fd, v);
    return 1;
}

static int method_of(struct lws *wsi)
{
    char *uri;
    int len;
    switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
    case LWSHUMETH_GET:
        return HTTP_GET;
    case LWSHUMETH_POST:
        return HTTP_POST;
    case LWSHUMETH_OPTIONS:
        return HTTP_OPTIONS;
    case LWSHUMETH_PUT:
        return HTTP_PUT;
    case LWSHUMETH_PATCH:
        return HTTP_PATCH;
    case LWSHUMETH_DELETE:
        return HTTP_DELETE;
    case LWSHUMETH_HEAD:
        return HTTP_HEAD;
    default:
        return 0;
    }
}

/* Copies path into out with every segment that may carry a secret (a ticket
 * code K1..., or anything long: a token, a code) shown as "{redacted}", and
 * no query string. */
static void redact_path(char *out, size_t n, const char *path)
{
    size_t used = 0;
    const char *p = path;
    out[0] = '\0';
    while (*p && *p != '?' && used + 1 < n) {
        if (*p == '/') {
            out[used++] = '/';
            p++;
            continue;
        }
        size_t len = strcspn(p, "/?");
        bool secret = len > 24 || strncmp(p, "K1.", 3) == 0 || strncmp(p, "K1%2", 4) == 0;
        const char *shown = secret ? "{redacted}" : p;
        size_t slen = secret ? strlen(shown) : len;
        if (used + slen >= n)
            break;
        memcpy(out + used, shown, slen);
        used += slen;
        p += len;
    }
    out[used] = '\0';
}

static void log_request(struct req *r, size_t bytes)
{
    char path[300], redacted[256];
    const char *shown = redacted;
    if (r->rt && (r->rt->flags & ROUTE_REDACT_PATH))
        shown = r->rt->pattern;
    else
        redact_path(redacted, sizeof redacted, r->path);
    log_escape(path, sizeof path, shown);
    log_kv_held(LOG_INFO, "request", "id=%llu method=%s path=%s status=%d bytes=%zu us=%lld",
                (unsigned long long)r->id, http_method_name(r->head ? HTTP_HEAD : r->method), path,
                r->status, bytes, (long long)((mono() - r->t0) * 1e6));
}

/* Writes r's answer. Returns what the lws callback should return. */
static int req_write(struct req *r)
{
    struct lws *wsi = r->wsi;
    size_t hroom = 1536;
    int status = r->status ? r->status : 500;
    const char *body = r->out;
    size_t body_len = r->out_len;
    if (!body && status >= 500) { /* an error always has the contract's shape */
        body = status == 503 ? req_busy_fallback : req_error_fallback;
        body_len = strlen(body);
        r->ctype = "application/json";
    }
    /* no room for this answer: 503 busy from the stack, as any answer whose
     * copy cannot be made (req_reply), rather than a dropped connection */
    unsigned char spare[LWS_PRE + 1536 + 128];
    unsigned char *buf = malloc(LWS_PRE + hroom + body_len);
    int rc = -1;
    if (!buf) {
        status = 503;
        body = req_busy_fallback;
        body_len = strlen(body);
        r->ctype = "application/json";
        r->cache = NULL;
        r->nhdr = 0;
        r->allow = 0;
        r->retry_after = 1;
        buf = spare;
    }
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + hroom;
    char v[64];
    if (r->counted_unwritten) {
        r->counted_unwritten = false;
        r->k->unwritten--;
    }
    if (lws_add_http_common_headers(wsi, (unsigned int)status,
                                    r->ctype ? r->ctype : "application/json", body_len, &p, end))
        goto out;
    int n = snprintf(v, sizeof v, "%llu", (unsigned long long)r->id);
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-request-id:", (unsigned char *)v,
                                    n, &p, end))
        goto out;
    const char *cache = r->cache ? r->cache : "no-store";
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)cache, (int)strlen(cache), &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end))
        goto out;
    /* over TLS only: a browser ignores it on plain HTTP, and a box served on
     * plain HTTP must not be pinned to HTTPS it does not have */
    static const char hsts[] = "max-age=31536000";
    if (r->k->cfg.http_cert[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"strict-transport-security:",
                                    (const unsigned char *)hsts, (int)strlen(hsts), &p, end))
        goto out;
    for (int i = 0; i < r->nhdr; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)r->hdr[i].name,
                                        (const unsigned char *)r->hdr[i].value,
                                        (int)strlen(r->hdr[i].value), &p, end))
            goto out;
    if (r->retry_after > 0) {
        n = snprintf(v, sizeof v, "%d", r->retry_after);
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"retry-after:", (unsigned char *)v, n, &p, end))
            goto out;
    }
    if (r->allow) {
        size_t used = 0;
        v[0] = '\0';
        for (int m = 1; m <= HTTP_OPTIONS; m <<= 1)
            if (r->allow & m)
                used += (size_t)snprintf(v + used, sizeof v - used, "%s%s", used ? ", " : "",
                                         http_method_name(m));
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:", (unsigned char *)v,
                                        (int)used, &p, end))
            goto out;
    }
    if (r->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &p, end))
        goto out;
    if (lws_finalize_http_header(wsi, &p, end))
        goto out;
    if (body_len && !r->head) { /* HEAD: GET's headers, Content-Length included */
        memcpy(p, body, body_len);
        p += body_len;
    }
    req_enter(r, REQ_WRITTEN);
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0)
        goto out;
    rc = 0;
out:
    if (buf != spare)
        free(buf);
    r->status = status;
    log_request(r, body_len);
    metrics_request(&r->k->metrics, r->route, status, mono() - r->t0);
    if (rc || r->close_after)
        return -1;
    /* r is freed inside lws_http_transaction_completed: touch nothing after. */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void server_answer_deferred(struct req *r)
{
    struct lws *wsi = r->wsi;
    /* Written at once rather than on WRITEABLE: one poll round less, and lws
     * 4.1 delivers no POLLOUT to a connection whose input is paused (below). */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    /* Closed at once (r is freed: nothing touches it after an answer): on
     * libev's loop a kill left to lws' timers comes at their next round (up
     * to 100 ms, loop_tick), and meanwhile a connection whose input is paused
     * (pipelining) and that the client closed keeps waking the loop. */
    if (req_write(r) != 0)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* A client sent another request on a connection whose answer is still being
 * prepared (HTTP pipelining). lws 4.1 cannot hold that request back: it would
 * feed it into the waiting one's state. So input stops, the waiting answer
 * goes out with Connection: close, and the client retries the rest on a new
 * connection (nothing of them was read, let alone done). */
static void pipelined_behind(struct req *r)
{
    if (!r->close_after) {
        r->close_after = true;
        lws_rx_flow_control(r->wsi, 0);
        log_info("pipelined", "id=%llu action=close_after_answer", (unsigned long long)r->id);
    }
}

static int dispatch(struct req *r)
{
    req_enter(r, REQ_HANDLER);
    req_dispatch(r);
    if (r->state == REQ_ANSWERED)
        return req_write(r);
    if (r->state == REQ_WAITING) {
        /* lws cleared its own timeout; a client waiting on work gets ours. */
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, DEFERRED_TIMEOUT_S);
        return 0;
    }
    req_error(r, 500, "internal", "the request was not answered", NULL);
    return req_write(r);
}

/* Answers at once from LWS_CALLBACK_HTTP (before any body is read). */
static int early_write(struct req *r)
{
    /* With a body still unread the connection cannot be reused. */
    if (r->content_length > 0)
        r->close_after = true;
    return req_write(r);
}

static int early_error(struct req *r, int status, const char *code, const char *message)
{
    req_error(r, status, code, message, NULL);
    return early_write(r);
}

/* early_error() with the answer req_fail() gives to status rc. */
static int early_fail(struct req *r, int rc)
{
    req_fail(r, rc);
    return early_write(r);
}

static int64_t parse_content_length(struct lws *wsi)
{
    char v[32];
    int n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0)
        return -1;
    int64_t x = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > (int64_t)1 << 40)
            return -2;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* True when the client waits for "100 Continue" before sending its body. */
static bool expects_continue(struct lws *wsi)
{
    char v[32];
    int n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_EXPECT);
    return n == 12 && strncasecmp(v, "100-continue", 12) == 0;
}

/* The interim answer, once every check on the headers has passed (lws 4.1
 * sends none). Returns 0, or -1 when it could not be written. */
static int send_continue(struct lws *wsi)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    unsigned char buf[LWS_PRE + sizeof line];
    memcpy(buf + LWS_PRE, line, sizeof line - 1);
    return lws_write(wsi, buf + LWS_PRE, sizeof line - 1, LWS_WRITE_HTTP_HEADERS) < 0 ? -1 : 0;
}

/* True when, past the grace, r's body arrives slower than [http] min_body_rate. */
static bool body_too_slow(const struct req *r)
{
    int64_t rate = r->k->cfg.http_min_body_rate;
    double late = mono() - r->t0 - BODY_GRACE_S;
    if (rate <= 0 || late <= 0 || (int64_t)r->body.len >= r->content_length)
        return false;
    if ((double)r->body.len >= (double)rate * late)
        return false;
    log_info("body_too_slow", "id=%llu bytes=%zu of=%lld", (unsigned long long)r->id, r->body.len,
             (long long)r->content_length);
    return true;
}

/* The client's address as text, as lws_get_peer_simple() gives it, from the
 * address counted at accept: no getpeername() per request. */
static void peer_of(const struct kioskd *k, struct lws *wsi, char *out, size_t n)
{
    const struct conn_addr *slot = lws_get_opaque_user_data(wsi);
    bool v6 = strchr(k->cfg.http_host, ':') != NULL; /* an IPv4 listener's are ::ffff:a.b.c.d */
    if (!slot ||
        !inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? slot->addr : slot->addr + 12, out, (socklen_t)n))
        lws_get_peer_simple(wsi, out, n);
}

static int on_http(struct req *r, struct lws *wsi, const char *uri, size_t urilen)
{
    struct kioskd *k = lws_context_user(lws_get_context(wsi));
    if (r->k && r->state >= REQ_HANDLER && r->state < REQ_WRITTEN) {
        pipelined_behind(r); /* the earlier request still owns r */
        return 0;
    }
    memset(r, 0, sizeof *r);
    r->k = k;
    r->wsi = wsi;
    r->id = ++k->next_request_id;
    r->t0 = mono();
    r->route = -1;
    r->method = method_of(wsi);
    if (r->method == HTTP_HEAD) {
        r->method = HTTP_GET;
        r->head = true;
    }
    r->content_length = parse_content_length(wsi);
    buf_init(&r->body, 0);

    if (urilen >= sizeof r->path) {
        snprintf(r->path, sizeof r->path, "(long)");
        return early_error(r, 414, "uri_too_long", "the path is too long");
    }
    memcpy(r->path, uri, urilen);
    r->path[urilen] = '\0';
    if (memchr(uri, '\0', urilen))
        return early_error(r, 400, "malformed", "the path is not valid");
    if (k->draining) {
        r->close_after = true;
        r->retry_after = 5;
        return early_error(r, 503, "shutting_down", "the daemon is restarting; try again shortly");
    }
    if (!r->method)
        return early_error(r, 405, "method_not_allowed", "this method is not supported");
    if (r->content_length == -2)
        return early_error(r, 400, "malformed", "Content-Length is not a number");
    if (r->content_length >= 0 && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        r->close_after = true; /* where this body ends is ambiguous (request smuggling) */
        return early_error(r, 400, "malformed",
                           "send either Content-Length or Transfer-Encoding, not both");
    }

    int allowed = 0;
    r->route = router_match(&k->router, r->method, r->path, &r->params, &allowed);
    if (r->route == -2) {
        r->route = -1;
        r->allow = allowed;
        return early_error(r, 405, "method_not_allowed", "this path does not take this method");
    }
    if (r->route < 0)
        return early_error(r, 404, "not_found", "no such path");
    r->rt = k->router.routes[r->route];

    peer_of(k, wsi, r->peer, sizeof r->peer); /* handlers limit by address too */
    if ((r->rt->flags & ROUTE_PUBLIC) && k->ratelimit) {
        int wait = ratelimit_take(k->ratelimit, r->peer, wall_us());
        if (wait) {
            metrics_add(&k->metrics, MC_RATE_LIMITED, 1);
            r->retry_after = wait;
            return early_error(r, 429, "rate_limited", "too many requests; slow down");
        }
    }

    if (r->rt->role > ROLE_NONE) {
        char auth[160];
        int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
        bool bearer = n > 7 && strncasecmp(auth, "Bearer ", 7) == 0;
        int rc = bearer ? auth_token(k, auth + 7, (size_t)n - 7, &r->session) : KIOSKD_EAUTH;
        mbedtls_platform_zeroize(auth, sizeof auth); /* our copy of the token */
        if (!bearer)
            return early_error(r, 401, "unauthorized",
                               "log in first (Authorization: Bearer TOKEN)");
        if (rc == KIOSKD_EIO) {
            r->retry_after = 5;
            return early_error(r, 503, "storage_unavailable", "the database cannot be read");
        }
        if (rc == KIOSKD_ENOMEM || rc == KIOSKD_EBUSY)
            return early_fail(r, rc);
        if (rc)
            return early_error(r, 401, "unauthorized", "the token is unknown, expired or revoked");
        r->role = role_from_name(r->session.role);
        if (r->role < r->rt->role)
            return early_error(r, 403, "forbidden", "your role does not allow this");
    }
    /* the last connections are kept for /healthz and signed-in staff */
    if (r->rt->role == ROLE_NONE && !(r->rt->flags & ROUTE_ALWAYS) &&
        connlimit_crowded(&k->conns)) {
        r->close_after = true;
        r->retry_after = 1;
        return early_error(r, 503, "busy", "the daemon is busy; try again shortly");
    }

    bool has_body = r->method == HTTP_POST || r->method == HTTP_PUT || r->method == HTTP_PATCH;
    if (has_body && r->content_length < 0) {
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
            r->close_after = true;
            return early_error(r, 411, "length_required",
                               "chunked bodies are not accepted; send Content-Length");
        }
        r->close_after = true;
        return early_error(r, 411, "length_required", "send Content-Length with the body");
    }
    if (r->content_length > 0) {
        size_t max = r->rt->body_max ? r->rt->body_max : HTTP_BODY_MAX;
        if (r->content_length > (int64_t)max)
            return early_error(r, 413, "too_large", "the request body is too large");
        if (r->rt->flags & (ROUTE_JSON | ROUTE_BODY)) {
            char ct[80];
            int n = lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE);
            if (n <= 0 || strncasecmp(ct, "application/json", 16) != 0 ||
                (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
                return early_error(r, 415, "unsupported_media_type",
                                   "send the body as Content-Type: application/json");
        }
        buf_init(&r->body, (size_t)r->content_length);
        /* a secret's body is received in place, so that one wipe reaches every byte */
        if ((r->rt->flags & ROUTE_SECRET) && buf_reserve(&r->body, (size_t)r->content_length))
            return early_fail(r, KIOSKD_ENOMEM);
        int secs = (int)k->cfg.http_request_timeout;
        if (k->cfg.http_min_body_rate > 0) {
            double need =
                BODY_GRACE_S + ceil((double)r->content_length / (double)k->cfg.http_min_body_rate);
            if (need < secs)
                secs = (int)need;
        }
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, secs);
        if (expects_continue(wsi) && send_continue(wsi))
            return -1;
        req_enter(r, REQ_BODY);
        return 0; /* the body follows */
    }
    if (r->method == HTTP_POST && r->content_length == 0)
        return 0; /* lws calls BODY_COMPLETION next */
    return dispatch(r);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct req *r = user;
    struct kioskd *k;
    int rc;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(r, wsi, in, len);

    case LWS_CALLBACK_HTTP_BODY:
        if (!r || !r->k)
            return -1;
        if (r->state >= REQ_HANDLER) {
            pipelined_behind(r);
            return 0;
        }
        if (len && (rc = buf_append(&r->body, in, len)) != 0)
            return rc == KIOSKD_ETOOBIG
                       ? early_error(r, 413, "too_large", "the request body is too large")
                       : early_fail(r, rc);
        if (body_too_slow(r))
            return early_error(r, 408, "request_timeout", "the request body arrives too slowly");
        return 0;

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        k = lws_context_user(lws_get_context(wsi));
        return k ? conn_accept(k, user) : 0;

    case LWS_CALLBACK_WSI_DESTROY:
        k = lws_context_user(lws_get_context(wsi));
        if (k && lws_get_opaque_user_data(wsi)) {
            connlimit_put(&k->conns, lws_get_opaque_user_data(wsi));
            lws_set_opaque_user_data(wsi, NULL);
        }
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!r || !r->k)
            return -1;
        if (r->state >= REQ_HANDLER) {
            pipelined_behind(r); /* lws repeats this for input behind a waiting answer */
            return 0;
        }
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        return dispatch(r);

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!r || !r->k || r->state != REQ_ANSWERED)
            return 0; /* spurious, or not ready yet */
        return req_write(r);

    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (!r || !r->k)
            return 0;
        if (r->wait) {
            /* the client left while its work was in flight: the work goes on,
             * unless a worker has yet to start it (then it is dropped) */
            atomic_store(&r->wait->gone, true);
            r->wait->req = NULL;
            r->wait = NULL;
            r->k->waiting--;
            r->k->metrics.counters[MC_CLIENTS_GONE]++;
        } else if (r->state == REQ_ANSWERED) {
            r->k->metrics.counters[MC_CLIENTS_GONE]++;
        }
        if (r->counted_unwritten) {
            r->counted_unwritten = false;
            r->k->unwritten--;
        }
        r->wsi = NULL;
        req_release(r);
        free(r->out);
        r->out = NULL;
        r->k = NULL;
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        k = lws_context_user(lws_get_context(wsi));
        if (k && k->store && store_complete(k->store) > 0)
            hqsync_outbox_check(k); /* an early sync round when the outbox grew */
        if (k && k->workers)
            worker_complete(k->workers);
        if (k)
            net_complete(k->net); /* messages and HQ sync */
        return 0;                 /* never non-zero: that would close lws' wake-up pipe */

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/*
 * A request whose method lws does not know (TRACE, PROPFIND, ...) or that is
 * not HTTP at all: lws's parser gives up on it and hands the connection to
 * this raw protocol (LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG)
 * instead of answering an HTML 403 itself. It gets the contract's 405 (or
 * 400 when the first word is no method at all) and the connection is closed.
 */
struct raw_conn {
    int status; /* 0 until the first bytes are seen */
};

static int raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct raw_conn *rc = user;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX:
        if (rc && !rc->status) {
            const char *d = in;
            size_t m = 0;
            while (m < len && m < 20 && d[m] >= 'A' && d[m] <= 'Z')
                m++;
            rc->status = m > 0 && m < len && d[m] == ' ' ? 405 : 400;
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE: {
        if (!rc || !rc->status)
            return 0;
        const char *body = rc->status == 405
                               ? REFUSE_BODY("method_not_allowed", "this method is not supported")
                               : REFUSE_BODY("malformed", "this is not an HTTP request");
        unsigned char buf[LWS_PRE + 512];
        int n = snprintf(
            (char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
            "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
            "%sconnection: close\r\n\r\n%s",
            rc->status == 405 ? "405 Method Not Allowed" : "400 Bad Request", strlen(body),
            rc->status == 405 ? "allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n" : "",
            body);
        log_info("refused", "status=%d reason=%s", rc->status,
                 rc->status == 405 ? "unknown_method" : "not_http");
        if (n > 0 && (size_t)n < sizeof buf - LWS_PRE)
            lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW);
        return -1;
    }
    default:
        return 0;
    }
}

/* A new connection is adopted on the vhost's default protocol, the live one
 * (pvo_live below): the connection counted at accept is tied to it here. */
static int live_entry(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    if (reason == LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED) {
        struct kioskd *k = lws_context_user(lws_get_context(wsi));
        if (k && k->conn_pending) {
            lws_set_opaque_user_data(wsi, k->conn_pending);
            k->conn_pending = NULL;
        }
    }
    return live_callback(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* an answer goes out in one send() up to 64 KiB (lws' default is 4 KiB:
     * the event list took two sends and a wait for the socket to be writable) */
    {"http", http_callback, sizeof(struct req), 0, 0, NULL, 65536},
    {"kioskd-live", live_entry, sizeof(struct live_conn), 4096, 0, NULL, 0},
    {"kioskd-raw", raw_callback, sizeof(struct raw_conn), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_emit(int level, const char *line)
{
    char msg[300];
    size_t n = strlen(line);
    char tmp[300];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, line, n);
    while (n && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
        n--;
    tmp[n] = '\0';
    log_kv(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws", "msg=%s",
           log_escape(msg, sizeof msg, tmp));
}

/* Tries the address first so that a busy port gets a clear message. */
static int probe_listen(const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else {
        snprintf(err, errlen, "[http] listen: '%s' is not an IP address", host);
        return KIOSKD_ECONFIG;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&ss, sl);
    int e = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s%s", host, port, strerror(e),
                 e == EADDRINUSE ? " (is another kioskd running?)" : "");
        return KIOSKD_EIO;
    }
    return 0;
}

/* The live protocol takes websocket clients that name no subprotocol. */
static const struct lws_protocol_vhost_options live_default = {NULL, NULL, "default", "1"};
static const struct lws_protocol_vhost_options raw_fallback = {NULL, NULL, "raw", "1"};
static const struct lws_protocol_vhost_options pvo_raw = {NULL, &raw_fallback, "kioskd-raw", ""};
static const struct lws_protocol_vhost_options pvo_live = {&pvo_raw, &live_default, "kioskd-live",
                                                           ""};
/* Tablets idle for 30 s are pinged; after 90 s without an answer they are dropped. */
static const lws_retry_bo_t idle_policy = {.secs_since_valid_ping = 30,
                                           .secs_since_valid_hangup = 90};

/*
 * On libev, lws 4.1 arms its one ev_timer for the earliest of its timers
 * (sul) when that one fires, or when the loop goes idle, where re-arming an
 * armed ev_timer changes nothing: a timer scheduled earlier than the armed
 * one (a live view's token expiry, a request timeout) would wait for it, and
 * a busy loop never goes idle. This tick, always the next 100 ms, keeps the
 * armed one near: every timer fires at most 100 ms late.
 */
#define LOOP_TICK_US (100 * LWS_US_PER_MS)

static void loop_tick(lws_sorted_usec_list_t *sul)
{
    struct kioskd *k = lws_container_of(sul, struct kioskd, loop_tick);
    lws_sul_schedule(k->lws, 0, &k->loop_tick, loop_tick, LOOP_TICK_US);
}

/* libev's allocator. libev aborts the process when an allocation fails
 * (growing its tables of descriptors, changes and pending events, which it
 * cannot give up halfway), so a moment without memory would take the daemon
 * down with every request in flight. This one waits and tries again for up to
 * a second (the loop waits with it), and gives up as libev would only then. */
static void *ev_realloc_patient(void *ptr, long size)
{
    if (size <= 0) {
        free(ptr);
        return NULL;
    }
    for (int tries = 0;; tries++) {
        void *p = realloc(ptr, (size_t)size);
        if (p)
            return p;
        if (tries == 0)
            log_warn("event_loop", "alloc=failed bytes=%ld retry=1s", size);
        if (tries == 1000) {
            log_error("event_loop", "alloc=failed bytes=%ld reason=out_of_memory", size);
            abort();
        }
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
}

int server_start(struct kioskd *k, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    int rc = probe_listen(k->cfg.http_host, k->cfg.http_port, err, errlen);
    if (rc)
        return rc;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    memset(&info, 0, sizeof info);
    info.port = k->cfg.http_port;
    info.iface = k->cfg.http_host;
    info.protocols = protocols;
    info.user = k;
    info.server_string = "kioskd";
    info.pvo = &pvo_live;
    info.retry_and_idle_policy = &idle_policy;
    info.timeout_secs = (unsigned int)k->cfg.http_request_timeout;
    info.timeout_secs_ah_idle = (int)k->cfg.http_request_timeout;
    info.keepalive_timeout = (int)k->cfg.http_keepalive_timeout;
    info.fd_limit_per_thread = (unsigned int)k->cfg.http_max_connections + 32;
    info.max_http_header_data = 4096;
    /* one header table per connection we accept: none ever waits for one */
    info.max_http_header_pool2 = (unsigned int)k->cfg.http_max_connections + 8;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(k->cfg.http_host, ':') == NULL);
    /* a request lws cannot parse goes to kioskd-raw (pvo "raw"); naming it in
     * listen_accept_protocol instead would adopt every connection on it */
    info.options |= LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
    if (k->cfg.http_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = k->cfg.http_cert;
        info.ssl_private_key_filepath = k->cfg.http_key;
        info.alpn = "http/1.1";
    }
    if (connlimit_init(&k->conns, (int)k->cfg.http_max_connections,
                       (int)k->cfg.http_max_per_address, (int)k->cfg.http_reserved_connections)) {
        snprintf(err, errlen, "out of memory for the connection table");
        return KIOSKD_ENOMEM;
    }
    /* lws' own loop polls every open connection on each turn: with a few
     * thousand idle keep-alive connections that costs more than the request.
     * On libev's loop (epoll) a turn costs what is ready. Without lws' libev
     * plugin, lws' own loop still serves. */
    bool want_ev = strcmp(k->cfg.http_event_loop, "epoll") == 0;
    if (want_ev)
        ev_set_allocator(ev_realloc_patient);
    struct ev_loop *loop = want_ev ? ev_loop_new(EVFLAG_NOENV | ev_recommended_backends()) : NULL;
    void *loops[1] = {loop};
    if (loop) {
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = loops;
        k->lws = lws_create_context(&info);
        if (k->lws) {
            k->evloop = loop;
            /* On a foreign loop lws 4.1 leaves its protocol init, which names
             * the vhost's default (kioskd-live) and raw (kioskd-raw) protocols
             * from the pvos, to a timer of that loop. libev may serve the
             * listening socket first in that turn: a connection accepted then
             * was bound to "http", so an unknown method (TRACE) reached
             * http_callback as raw input and was never answered, and its
             * connection count was not tied to it (live_entry). Done here,
             * before the loop's first turn, as lws' own loop does first. */
            lws_state_transition_steps(lws_system_get_state_manager(k->lws),
                                       LWS_SYSTATE_OPERATIONAL);
            lws_sul_schedule(k->lws, 0, &k->loop_tick, loop_tick, LOOP_TICK_US);
        } else {
            ev_loop_destroy(loop);
            log_warn("event_loop", "loop=poll reason=lws_libev_unavailable");
        }
    } else if (want_ev) {
        log_warn("event_loop", "loop=poll reason=no_libev_loop");
    }
    if (!k->lws) {
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = NULL;
        k->lws = lws_create_context(&info);
    }
    if (!k->lws) {
        snprintf(err, errlen, "cannot start the HTTP server on %s:%d%s", k->cfg.http_host,
                 k->cfg.http_port, k->cfg.http_cert[0] ? " (check [http] cert and key)" : "");
        return KIOSKD_EIO;
    }
    k->vhost = lws_get_vhost_by_name(k->lws, "default");
    k->port = k->vhost ? lws_get_vhost_listen_port(k->vhost) : k->cfg.http_port;
    return 0;
}

static void drain_tick(lws_sorted_usec_list_t *sul)
{
    struct kioskd *k = lws_container_of(sul, struct kioskd, drain_tick);
    lws_sul_schedule(k->lws, 0, &k->drain_tick, drain_tick, 50 * LWS_US_PER_MS);
}

void server_run(struct kioskd *k)
{
    double deadline = 0;
    for (;;) {
        int served = 0;
        if (k->evloop)
            ev_run(k->evloop, EVRUN_ONCE); /* returns after the events of one turn */
        else
            served = lws_service(k->lws, 0);
        log_flush(); /* the turn's request lines, before the loop may sleep */
        if (served < 0)
            break;
        if (k->hup_signal) {
            k->hup_signal = 0;
            log_reopen();
            log_info("log_reopened", NULL);
        }
        if (k->stop_signal && !k->draining) {
            k->draining = true;
            deadline = mono() + DRAIN_SECONDS;
            drain_tick(&k->drain_tick);
            /* PIN hashing still queued is not worth waiting for: those logins
             * are answered 503 shutting_down; door work queued is finished */
            int cancelled = workers_cancel_slow(k->workers);
            log_info("stopping", "waiting=%d logins_cancelled=%d",
                     k->waiting + store_inflight(k->store), cancelled);
        }
        if (k->draining) {
            store_complete(k->store);
            worker_complete(k->workers);
            if ((k->waiting == 0 && k->unwritten == 0 && store_inflight(k->store) == 0 &&
                 worker_inflight(k->workers) == 0 && messages_in_flight(k) == 0) ||
                mono() > deadline)
                break;
        }
    }
}

void server_stop(struct kioskd *k)
{
    if (k->lws) {
        lws_sul_cancel(&k->drain_tick);
        lws_sul_cancel(&k->loop_tick);
    }
    if (k->lws)
        lws_context_destroy(k->lws);
    k->lws = NULL;
    if (k->evloop)
        ev_loop_destroy(k->evloop);
    k->evloop = NULL;
    k->conn_pending = NULL;
    connlimit_free(&k->conns);
}
