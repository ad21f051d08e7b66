/*
 * The live view: websocket GET /api/v1/live?event=ID (staff token as
 * ?token= or Authorization: Bearer). Every connected tablet of an event gets
 * a small JSON message on each sign-up, check-in, undo and walk-in of that
 * event. Each connection has a queue bounded in bytes; a tablet that falls
 * behind is disconnected (it reconnects and re-reads the counters) rather than slowing
 * the others or the loop.
 */
#ifndef KIOSKD_LIVE_H
#define KIOSKD_LIVE_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>

#include "daemon/kioskd.h"

/* Bytes a tablet may have waiting before it counts as too slow and is
 * dropped. One commit can finish hundreds of check-ins at once, so the bound
 * is on bytes a connection fails to take, not on a burst's length. */
#define LIVE_MAX_PENDING (128 * 1024)
/* Kernel send buffer of a live connection (the kernel doubles it): a stalled
 * tablet then costs at most this plus LIVE_MAX_PENDING. */
#define LIVE_SNDBUF (32 * 1024)

struct live_msg;

/* One tablet's connection (lws per-session data of the live protocol). */
struct live_conn {
    struct lws *wsi;
    struct kioskd *k;
    int64_t event_id;
    char staff_id[33];
    unsigned char token_hash[32];  /* SHA-256 of the token it was opened with */
    int64_t expires_at;            /* the token's expiry (unix seconds) */
    lws_sorted_usec_list_t expiry; /* closes the connection when the token expires */
    struct live_conn *prev, *next;
    struct live_msg *head, *tail; /* waiting to be written, oldest first */
    size_t pending;               /* bytes waiting */
    bool overflowed;
    bool closing; /* its token ended: nothing more is sent, it is closed */
};

/* The lws protocol of the live view (kept in daemon/server.c's list). */
int live_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);
/* Sends msg to every connection watching event_id; takes the reference to msg. */
void live_publish(struct kioskd *k, int64_t event_id, json_t *msg);
/* Closes at once every connection opened with the token whose SHA-256 is hash
 * (a logout); they receive nothing more. */
void live_close_token(struct kioskd *k, const unsigned char hash[32]);
/* Closes at once every connection of staff member staff_id (sessions revoked). */
void live_close_staff(struct kioskd *k, const char *staff_id);
/* Connections open now. */
int live_count(struct kioskd *k);

#endif
