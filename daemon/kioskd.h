/*
 * struct kioskd: the one context of a running daemon, created in main and
 * passed down. Nothing else in kioskd holds mutable process state (the
 * logger excepted, see daemon/log.h).
 */
#ifndef KIOSKD_KIOSKD_H
#define KIOSKD_KIOSKD_H

#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/pii.h"
#include "core/rng.h"
#include "core/ticket.h"
#include "core/wxcrypto.h"
#include "daemon/config.h"
#include "daemon/connlimit.h"
#include "daemon/metrics.h"
#include "daemon/ratelimit.h"
#include "daemon/router.h"
#include "store/store.h"

struct workers;
struct live;
struct messenger;
struct hq;
struct net;
struct hqsync;
struct campaign_builder;

/* The event list as served (rebuilt when events change, at most every second). */
struct bot_cache;
struct bot_backend;

struct events_cache {
    char *json;
    size_t len;
    int64_t built_us;
    bool valid;
};

struct kioskd {
    struct config cfg;
    struct store *store;
    struct router router;
    struct metrics metrics;
    struct ratelimit *ratelimit;
    struct connlimit conns;          /* open connections, per address (server.c) */
    struct conn_addr *conn_pending;  /* counted at accept, not yet on its connection */
    struct ratelimit *signup_rl;     /* sign-ups per address ([kiosk] signups_per_minute) */
    struct ratelimit *login_addr_rl; /* logins per address ([staff] login_per_minute) */
    struct ratelimit *login_id_rl;   /* logins per staff id ([staff] login_id_per_minute) */
    struct ratelimit *bot_rl;        /* commands per chat identity ([bot] per_minute) */

    struct lws_context *lws;
    void *evloop; /* libev's loop (epoll) that lws runs on; NULL: lws' own poll() */
    struct lws_vhost *vhost;
    int port;                          /* the port actually listened on */
    lws_sorted_usec_list_t drain_tick; /* wakes the loop while stopping */
    lws_sorted_usec_list_t loop_tick;  /* keeps lws' timers on time on libev (server.c) */
    lws_sorted_usec_list_t daily_tick; /* daily work (daemon/daily.c) */
    bool daily_running;                /* a daily run is in the store's hands */

    struct rng rng;               /* the loop's random source */
    struct pii pii;               /* the loop's personal-data keys */
    char kid[TICKET_KID_LEN + 1]; /* this daemon's ticket key id */
    /* key of the digests of the tickets it issues (core/ticket.h ticket_digest);
     * set before the workers start, read-only after, so any thread may read it */
    unsigned char ticket_digest_key[TICKET_DIGEST_LEN];
    char public_pem[256];        /* its public part, pushed to HQ for other devices */
    struct wx_key wx_key;        /* [wechat] encoding_aes_key, decoded once at start */
    int wx_key_rc;               /* 0, or why it could not be decoded (safe mode refused) */
    unsigned long wx_salt;       /* expat's hash salt for WeChat messages (0: not drawn yet) */
    struct workers *workers;     /* CPU work: signatures, PIN hashes, QR images */
    struct live *live;           /* websocket subscribers (daemon/live.c) */
    struct messenger *messenger; /* templates, scheduler, sender, net thread (messages.c) */
    struct events_cache events_cache;
    struct bot_cache *bot_cache;        /* recent read-only chat replies (handlers/bot.c) */
    struct net *net;                    /* outbound HTTP: messages, HQ sync (daemon/net.h) */
    struct hqsync *hqsync;              /* the daemon's own sync rounds (daemon/hqsync.h) */
    struct campaign_builder *campaigns; /* audience builds on a worker (handlers/campaigns.c) */
    struct hq *hq;                 /* `kioskd hq` only (daemon/hq.h); NULL in a branch daemon */
    const struct bot_backend *bot; /* the chat bot's data (handlers/bot.h); NULL: the branch's */

    int64_t test_clock; /* seconds KIOSKD_TEST_CLOCK adds to the messenger's time (test hook) */

    uint64_t next_request_id;
    int waiting;   /* requests waiting for a deferred answer */
    int unwritten; /* deferred answers ready but not yet written */
    volatile sig_atomic_t stop_signal;
    volatile sig_atomic_t hup_signal;
    bool draining; /* stopping: new requests get 503 */
};

#endif
