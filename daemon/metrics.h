/*
 * Counters and histograms of the daemon, rendered in the Prometheus text
 * format for GET /metrics. Loop thread only (the store's own counters are
 * copied in under its lock at render time).
 */
#ifndef KIOSKD_METRICS_H
#define KIOSKD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/hist.h"
#include "daemon/router.h"
#include "store/store.h"

enum metric_counter {
    MC_SIGNUPS,
    MC_CHECKINS,
    MC_WALKINS,
    MC_RATE_LIMITED,
    MC_SYNC_FAILURES,
    MC_MESSAGES_SENT,
    MC_MESSAGES_FAILED,
    MC_CLIENTS_GONE,      /* answered after the client had left */
    MC_TICKETS_BY_DIGEST, /* check-in scans decided by the digest kept at issue */
    MC_TICKETS_VERIFIED,  /* check-in scans verified by ECDSA on a worker */
    MC__COUNT
};

#define METRICS_STATUS_SLOTS 16

struct route_stat {
    int nstatus;
    uint16_t status[METRICS_STATUS_SLOTS];
    uint64_t count[METRICS_STATUS_SLOTS];
    struct hist latency;
};

struct metrics {
    size_t nroutes;
    struct route_stat *routes; /* nroutes + 1; the last counts unmatched paths */
    uint64_t counters[MC__COUNT];
    int64_t started_us;
};

/* 0 or KIOSKD_ENOMEM. */
int metrics_init(struct metrics *m, size_t nroutes);
void metrics_free(struct metrics *m);
/* Records one answered request; route -1 for paths that matched no route. */
void metrics_request(struct metrics *m, int route, int status, double seconds);
void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n);
/* Appends the Prometheus exposition to out. */
int metrics_render(const struct metrics *m, const struct router *rt, const struct store_stats *ss,
                   int64_t now_us, struct buf *out);

#endif
