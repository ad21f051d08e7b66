/*
 * The net thread (daemon/net.h): one CURLM, one thread, sleeping in
 * curl_multi_poll until a socket is ready, a timeout of curl's falls due, or
 * the loop wakes it (curl_multi_wakeup after a submit, or net_stop).
 * Until the first request is queued there is no CURLM: libcurl's set-up
 * (curl_global_init, and curl_multi_init, which does it too) initialises
 * OpenSSL, some 2 MiB of its pages that a daemon whose messages go only to
 * the log never needs. Till then the thread sleeps on the queue instead.
 *
 * Invariants:
 *  N1. Only the net thread touches the multi handle and the easy handles,
 *      except curl_multi_wakeup, which libcurl allows from any thread. The
 *      thread publishes the multi before it first takes from the queue, and
 *      the loop queues before it looks for the multi to wake: a request
 *      queued while there is none is seen by that first take.
 *  N2. A request is in exactly one place: the queue, the multi (r->easy set),
 *      or the done list; its done() runs once, on the loop.
 *  N3. After net_stop returns, no request is queued or running: each got
 *      rc KIOSKD_ESHUTDOWN and waits on the done list.
 */
#include "daemon/net.h"

#include <curl/curl.h>
#include <mbedtls/platform_util.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"

#define TAKE_MAX 64
#define POLL_MS 1000

struct net {
    struct jobq q;
    _Atomic(CURLM *) multi; /* NULL until the first request (curl_setup) */
    pthread_t thread;
    bool running_thread;
    atomic_bool stopping;
    struct net_req *running; /* the net thread's list of started transfers */
    void (*notify)(void *);
    void *notify_arg;
};

static struct net_req *req_of(struct jobq_node *n)
{
    return (struct net_req *)(void *)((char *)n - offsetof(struct net_req, node));
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct net_req *net_req_new(void)
{
    struct net_req *r = calloc(1, sizeof *r);
    if (r)
        buf_init(&r->response, NET_RESPONSE_MAX);
    return r;
}

void net_req_free(struct net_req *r)
{
    if (!r)
        return;
    free(r->url);
    for (int i = 0; i < NET_HEADERS_MAX; i++)
        free(r->headers[i]);
    if (r->body)
        mbedtls_platform_zeroize(r->body, r->body_len);
    free(r->body);
    free(r->ca_file);
    if (r->response.data)
        mbedtls_platform_zeroize(r->response.data, r->response.len);
    buf_free(&r->response);
    free(r);
}

int net_req_header(struct net_req *r, const char *line)
{
    for (int i = 0; i < NET_HEADERS_MAX; i++) {
        if (r->headers[i])
            continue;
        r->headers[i] = strdup(line);
        return r->headers[i] ? 0 : KIOSKD_ENOMEM;
    }
    return KIOSKD_ETOOBIG;
}

/* curl's write callback: keeps the body up to the request's bound. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct net_req *r = arg;
    size_t n = size * nmemb;
    if (buf_append(&r->response, data, n) != 0)
        return 0; /* over the bound (or out of memory): curl stops with CURLE_WRITE_ERROR */
    return n;
}

/* Finishes r with rc (loop's done list) and tells the loop. */
static void finish(struct net *n, struct net_req *r, int rc, double t0)
{
    r->rc = rc;
    r->seconds = mono() - t0;
    struct jobq_node *node = &r->node;
    jobq_finish(&n->q, &node, 1);
}

struct easy_priv {
    struct net_req *req;
    struct curl_slist *headers;
    double t0;
};

static struct easy_priv *priv_of(CURL *e)
{
    char *p = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &p);
    return (struct easy_priv *)(void *)p;
}

/* Takes r's easy handle out of the multi and frees it; returns its start time. */
static double easy_release(struct net *n, struct net_req *r)
{
    CURL *e = r->easy;
    struct easy_priv *p = priv_of(e);
    double t0 = p ? p->t0 : mono();
    curl_multi_remove_handle(n->multi, e);
    if (p) {
        curl_slist_free_all(p->headers);
        free(p);
    }
    curl_easy_cleanup(e);
    r->easy = NULL;
    if (r->run_prev)
        r->run_prev->run_next = r->run_next;
    else if (n->running == r)
        n->running = r->run_next;
    if (r->run_next)
        r->run_next->run_prev = r->run_prev;
    r->run_prev = r->run_next = NULL;
    return t0;
}

/* Sets up r's transfer and adds it to the multi; returns 1 when it finished
 * at once (it could not be set up), else 0. */
static int start(struct net *n, struct net_req *r)
{
    double t0 = mono();
    CURL *e = curl_easy_init();
    struct easy_priv *p = calloc(1, sizeof *p);
    if (!e || !p || !r->url) {
        curl_easy_cleanup(e);
        free(p);
        snprintf(r->error, sizeof r->error, "cannot set up the transfer");
        finish(n, r, KIOSKD_ENOMEM, t0);
        return 1;
    }
    p->req = r;
    p->t0 = t0;
    for (int i = 0; i < NET_HEADERS_MAX && r->headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(p->headers, r->headers[i]);
        if (l)
            p->headers = l;
    }
    if (r->response_max)
        r->response.max = r->response_max;
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "kioskd");
    if (r->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    r->error[0] = '\0';
    r->easy = e;
    r->run_prev = NULL;
    r->run_next = n->running;
    if (n->running)
        n->running->run_prev = r;
    n->running = r;
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK) {
        easy_release(n, r);
        snprintf(r->error, sizeof r->error, "cannot add the transfer");
        finish(n, r, KIOSKD_ENOMEM, t0);
        return 1;
    }
    return 0;
}

static int rc_of(CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return KIOSKD_ETIMEDOUT;
    case CURLE_WRITE_ERROR:
        return KIOSKD_ETOOBIG;
    case CURLE_OUT_OF_MEMORY:
        return KIOSKD_ENOMEM;
    default:
        return KIOSKD_ENET;
    }
}

/* Moves every completed transfer to the done list; returns how many. */
static int reap(struct net *n)
{
    int left = 0, done = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        struct easy_priv *p = priv_of(e);
        struct net_req *r = p->req;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        double t0 = easy_release(n, r);
        finish(n, r, rc_of(res), t0);
        done++;
    }
    return done;
}

/* libcurl's global set-up and the multi, on the thread, once a request is
 * queued; 0, or -1 when libcurl cannot be set up. */
static int curl_setup(struct net *n)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    CURLM *m = curl_multi_init();
    if (!m) {
        curl_global_cleanup();
        return -1;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 16L);
    atomic_store(&n->multi, m);
    return 0;
}

/* Fails every queued request with why; returns how many. */
static int fail_queued(struct net *n, int rc, const char *why)
{
    struct jobq_node *taken[TAKE_MAX];
    size_t k;
    int failed = 0;
    while ((k = jobq_try_take(&n->q, taken, TAKE_MAX, JOBQ_ALL_LANES)) > 0)
        for (size_t i = 0; i < k; i++, failed++) {
            struct net_req *r = req_of(taken[i]);
            snprintf(r->error, sizeof r->error, "%s", why);
            finish(n, r, rc, mono());
        }
    return failed;
}

static void *net_main(void *arg)
{
    struct net *n = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&n->stopping) && !atomic_load(&n->multi)) {
        if (!jobq_wait_idle(&n->q, POLL_MS) || atomic_load(&n->stopping))
            continue;
        if (curl_setup(n) != 0 && fail_queued(n, KIOSKD_ENOMEM, "cannot set up libcurl") > 0 &&
            n->notify)
            n->notify(n->notify_arg);
    }
    while (!atomic_load(&n->stopping)) {
        struct jobq_node *taken[TAKE_MAX];
        size_t k = jobq_try_take(&n->q, taken, TAKE_MAX, JOBQ_ALL_LANES);
        int finished = 0;
        for (size_t i = 0; i < k; i++)
            finished += start(n, req_of(taken[i]));
        int running = 0;
        curl_multi_perform(n->multi, &running);
        finished += reap(n);
        if (finished && n->notify)
            n->notify(n->notify_arg);
        if (k == TAKE_MAX)
            continue; /* more may be queued */
        curl_multi_poll(n->multi, NULL, 0, POLL_MS, NULL);
    }
    /* N3: cancel what runs, then what is still queued */
    while (n->running) {
        struct net_req *r = n->running;
        double t0 = easy_release(n, r);
        snprintf(r->error, sizeof r->error, "cancelled: the daemon is stopping");
        finish(n, r, KIOSKD_ESHUTDOWN, t0);
    }
    jobq_stop(&n->q);
    fail_queued(n, KIOSKD_ESHUTDOWN, "cancelled: the daemon is stopping");
    if (n->notify)
        n->notify(n->notify_arg);
    return NULL;
}

struct net *net_start(size_t queue_max, void (*notify)(void *), void *arg, char *err, size_t errlen)
{
    struct net *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    jobq_init(&n->q, queue_max);
    n->notify = notify;
    n->notify_arg = arg;
    if (pthread_create(&n->thread, NULL, net_main, n) != 0) {
        snprintf(err, errlen, "cannot start the net thread");
        net_free(n);
        return NULL;
    }
    n->running_thread = true;
    return n;
}

int net_submit(struct net *n, struct net_req *r)
{
    if (!n)
        return KIOSKD_ESHUTDOWN;
    r->rc = 0;
    r->status = 0;
    buf_reset(&r->response);
    int rc = jobq_submit(&n->q, &r->node);
    CURLM *m = atomic_load(&n->multi); /* none yet: the queue woke the thread (N1) */
    if (rc == 0 && m)
        curl_multi_wakeup(m);
    return rc;
}

static void complete_one(struct jobq_node *node)
{
    struct net_req *r = req_of(node);
    r->done(r);
}

int net_complete(struct net *n)
{
    return n ? jobq_complete(&n->q, complete_one) : 0;
}

int net_inflight(struct net *n)
{
    return n ? jobq_inflight(&n->q) : 0;
}

void net_stop(struct net *n)
{
    if (!n || !n->running_thread)
        return;
    atomic_store(&n->stopping, true);
    jobq_stop(&n->q);
    CURLM *m = atomic_load(&n->multi);
    if (m)
        curl_multi_wakeup(m);
    pthread_join(n->thread, NULL);
    n->running_thread = false;
}

void net_free(struct net *n)
{
    if (!n)
        return;
    net_stop(n);
    CURLM *m = atomic_load(&n->multi);
    if (m)
        curl_multi_cleanup(m);
    jobq_destroy(&n->q);
    free(n);
}
