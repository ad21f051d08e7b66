/*
 * The daemon's own sync with HQ (docs/sync.md, "The daemon's rounds"): with
 * [hq] url set, a loop timer runs one round soon after start, then every [hq]
 * interval seconds, and soon after the outbox grows while HQ is online: push
 * the outbox in signed batches, record each acknowledgement in one store
 * job, then pull and apply HQ's changes page by page, each page in one store
 * job. The requests go through the net thread (daemon/net.h); bodies are
 * built and answers read by daemon/sync.c, the same code as `kioskd sync
 * --once`. One round at a time; a failed round is retried after a backoff
 * that doubles per failure, with jitter, up to [hq] max_backoff.
 *
 * Loop thread only. Stopping cancels a round in flight (its requests end
 * with KIOSKD_ESHUTDOWN); what was not acknowledged stays in the outbox.
 */
#ifndef KIOSKD_HQSYNC_H
#define KIOSKD_HQSYNC_H

#include "core/buf.h"
#include "daemon/kioskd.h"

/* Whether [hq] url is set (the daemon then needs the net thread). */
bool hqsync_enabled(const struct kioskd *k);
/* Starts the timer (first round about a second after start); k->net must run.
 * Nothing when [hq] url is empty. 0, or a KIOSKD_E* code with err. */
int hqsync_start(struct kioskd *k, char *err, size_t errlen);
/* On the loop, after store jobs completed: when HQ is online, no round runs
 * and the outbox holds entries HQ has not acknowledged, brings the next
 * round forward to about a second from now (never later; debounced: a burst
 * of changes brings one round). Nothing while offline (the backoff stands). */
void hqsync_outbox_check(struct kioskd *k);
/* Cancels the timer; a round in flight ends when its request or store job
 * completes (cancelled by net_stop). */
void hqsync_stop(struct kioskd *k);
/* Frees the state and closes its read connection, after the net thread, the
 * workers and the store's writer have stopped, before the store is closed. */
void hqsync_free(struct kioskd *k);
/* "online" (the last round succeeded), "offline" (it failed, or none has
 * succeeded yet) or "disabled" (no [hq] url). */
const char *hqsync_health(const struct kioskd *k);
/* Appends the sync metrics in the Prometheus text format. */
int hqsync_metrics(const struct kioskd *k, struct buf *out);

#endif
