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

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "daemon/ratelimit.h"
#include "daemon/router.h"
#include "store/store.h"

struct kioskd {
    struct config cfg;
    struct store *store;
    struct router router;
    struct metrics metrics;
    struct ratelimit *ratelimit;

    struct lws_context *lws;
    struct lws_vhost *vhost;
    int port;                  /* the port actually listened on */
    lws_sorted_usec_list_t drain_tick; /* wakes the loop while stopping */

    uint64_t next_request_id;
    int waiting;               /* requests waiting for a deferred answer */
    volatile sig_atomic_t stop_signal;
    volatile sig_atomic_t hup_signal;
    bool draining;             /* stopping: new requests get 503 */
};

#endif
