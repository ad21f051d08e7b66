#include "daemon/daily.h"

#include <stdlib.h>
#include <time.h>

#include "core/status.h"
#include "core/timefmt.h"
#include "daemon/kioskd.h"
#include "daemon/log.h"
#include "store/bot.h"
#include "store/ledger.h"

#define AFTER_MIDNIGHT 60 /* seconds: the China date has surely turned */

struct daily_run {
    struct store_points_expire job;
    struct store_bot_prune prune;
    struct kioskd *k;
    int pending; /* jobs not done yet */
};

#define DELIVERIES_KEPT (2 * 86400) /* a chat channel retries within minutes */

static void run_done(struct daily_run *d)
{
    if (--d->pending == 0) {
        d->k->daily_running = false;
        free(d);
    }
}

static void pruned(struct store_job *job)
{
    struct daily_run *d = (struct daily_run *)job->arg;
    if (job->rc)
        log_warn("bot_prune_failed", "error=%s", kioskd_strerror(job->rc));
    run_done(d);
}

static void expired(struct store_job *job)
{
    struct daily_run *d = (struct daily_run *)job->arg;
    struct store_points_expire *j = &d->job;
    if (job->rc)
        log_warn("points_expiry_failed", "error=%s", kioskd_strerror(job->rc));
    else if (j->lines)
        log_info("points_expired", "lines=%lld points=%lld", (long long)j->lines,
                 (long long)j->points);
    run_done(d);
}

/* Submits a run unless one is in flight (a slow disk at midnight). */
static void daily_run(struct kioskd *k)
{
    if (k->daily_running)
        return;
    struct daily_run *d = calloc(1, sizeof *d);
    if (!d) {
        log_warn("points_expiry_failed", "error=%s", kioskd_strerror(KIOSKD_ENOMEM));
        return;
    }
    store_points_expire_init(&d->job);
    d->k = k;
    d->job.job.arg = d;
    d->job.job.done = expired;
    store_bot_prune_init(&d->prune);
    d->prune.before = (int64_t)time(NULL) - DELIVERIES_KEPT;
    d->prune.job.arg = d;
    d->prune.job.done = pruned;
    d->pending = 2;
    k->daily_running = true;
    int rc = store_submit(k->store, &d->job.job);
    if (rc)
        d->pending--; /* the next tick tries again */
    int rc2 = store_submit(k->store, &d->prune.job);
    if (rc2)
        d->pending--;
    if (rc || rc2)
        log_warn("daily_run_failed", "error=%s", kioskd_strerror(rc ? rc : rc2));
    if (d->pending == 0) {
        k->daily_running = false;
        free(d);
    }
}

static void daily_tick(lws_sorted_usec_list_t *sul)
{
    struct kioskd *k = lws_container_of(sul, struct kioskd, daily_tick);
    daily_run(k);
    int64_t since_midnight = ((int64_t)time(NULL) + TIME_CHINA_OFFSET) % 86400;
    lws_sul_schedule(k->lws, 0, &k->daily_tick, daily_tick,
                     (lws_usec_t)(86400 - since_midnight + AFTER_MIDNIGHT) * LWS_US_PER_SEC);
}

void daily_start(struct kioskd *k)
{
    daily_tick(&k->daily_tick);
}

void daily_stop(struct kioskd *k)
{
    if (k->lws)
        lws_sul_cancel(&k->daily_tick);
}
