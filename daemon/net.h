/*
 * The net thread: every outbound HTTP request of the daemon (the SMS gateway,
 * the WeCom robot, WeChat's API, later HQ sync) runs on one thread that owns
 * a libcurl multi handle and sleeps in curl_multi_poll(). The loop hands it a
 * struct net_req through a core/jobq queue and wakes it with
 * curl_multi_wakeup(); a finished transfer goes to the queue's done list and
 * the loop is woken (notify, i.e. lws_cancel_service), whose net_complete()
 * runs each request's done() on the loop.
 *
 * The net thread never touches lws state or the database: what a transfer
 * teaches (sent, failed, a new token) is written by the done() callback's
 * store job. It is not for the loop to wait on: the loop never blocks here.
 *
 * Life of a request: submitted (net_submit, loop) -> started (easy handle in
 * the multi, net thread) -> finished (done list; status, body, curl error
 * set) -> completed (done() ran, loop). net_stop cancels what is queued or
 * running: those finish with rc KIOSKD_ESHUTDOWN.
 */
#ifndef KIOSKD_NET_H
#define KIOSKD_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/jobq.h"

#define NET_RESPONSE_MAX (64 * 1024) /* default bound on a response body */
#define NET_HEADERS_MAX 8

struct net_req;
typedef void (*net_done_fn)(struct net_req *r);

struct net_req {
    /* in (the submitter's; net_req_free frees the strings) */
    char method[8]; /* "GET" or "POST" */
    char *url;
    char *headers[NET_HEADERS_MAX]; /* "Name: value", NULL-terminated list */
    char *body;                     /* NULL: none; wiped when freed (it may hold personal data) */
    size_t body_len;
    char *ca_file;       /* NULL: the system's CAs; else the only CAs trusted (a private CA) */
    long timeout_ms;     /* whole transfer; 0: 10 s */
    size_t response_max; /* 0: NET_RESPONSE_MAX; past it the body is cut and rc says so */
    net_done_fn done;
    void *arg;
    /* out, set before done() */
    int rc;      /* 0: an HTTP answer came (see status); KIOSKD_ETIMEDOUT, KIOSKD_ENET
                    (connection, DNS, TLS), KIOSKD_ETOOBIG (body over response_max),
                    KIOSKD_ESHUTDOWN (cancelled by net_stop) */
    long status; /* HTTP status when rc == 0 */
    struct buf response;
    char error[256]; /* curl's message when rc != 0 (no personal data: URLs carry none) */
    double seconds;  /* time the transfer took */
    /* the net thread's */
    void *easy;
    struct net_req *run_prev, *run_next; /* the transfers running */
    struct jobq_node node;
};

struct net;

/* Returns a new request (zeroed, response bounded), or NULL; free with net_req_free. */
struct net_req *net_req_new(void);
/* Frees r and its strings; accepts NULL. */
void net_req_free(struct net_req *r);
/* Adds a header line (copied); 0, KIOSKD_ETOOBIG (too many) or KIOSKD_ENOMEM. */
int net_req_header(struct net_req *r, const char *line);

/* Starts the thread, which sets libcurl up (curl_global_init) when the first
 * request is queued; the caller's curl_global_cleanup comes after net_free.
 * notify(arg) is called from it when requests are finished. Returns NULL on failure (err says why).
 */
struct net *net_start(size_t queue_max, void (*notify)(void *), void *arg, char *err,
                      size_t errlen);
/* Queues r (the loop); 0, KIOSKD_EBUSY (queue full) or KIOSKD_ESHUTDOWN. */
int net_submit(struct net *n, struct net_req *r);
/* On the loop: runs done() of every finished request; returns how many. */
int net_complete(struct net *n);
/* Requests submitted whose done() has not run (loop). */
int net_inflight(struct net *n);
/* Cancels every queued and running transfer (rc KIOSKD_ESHUTDOWN) and joins
 * the thread; their done() runs at the next net_complete. Accepts NULL. */
void net_stop(struct net *n);
/* Frees a stopped net; accepts NULL. */
void net_free(struct net *n);

#endif
