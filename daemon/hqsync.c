/*
 * The daemon's own sync rounds (daemon/hqsync.h).
 *
 * Life of a round, on the loop but for the push builds and the page reads:
 *   tick -> read the outbox cursor -> [push: build (a worker, slow class:
 *   the sync's own read connection, JSON, gzip, sign) -> net -> ack store
 *   job]* -> [pull: build -> net -> read the page (a worker, slow class:
 *   JSON, checks, members and guests sealed with the branch's key) -> page
 *   store job]* -> success | failure (backoff) | cancelled (stopping).
 *
 * Invariants:
 *  Y1. At most one round runs (running); the next is scheduled only when it
 *      ends, so a slow HQ never piles up requests.
 *  Y2. The outbox cursor moves only in a store job, after HQ's answer
 *      (store/sync.h S1); a cancelled or failed push leaves it where it was.
 *  Y3. A callback that finds the sync stopped schedules nothing: it frees
 *      what it holds and ends the round.
 *  Y4. One timer (tick) starts every round: the first EARLY_MS after start,
 *      then [hq] interval after a success or a backoff after a failure; an
 *      outbox that grows while HQ is online only brings that timer forward
 *      to EARLY_MS from now (never later, never a second timer), so a burst
 *      of changes costs one round and an offline branch keeps its backoff.
 *  Y5. The cursor moves back only when HQ acknowledges less than it (its
 *      database was restored), at most once per round (store/sync.h S1).
 *  Y6. hs->pii (the branch key of the sync) is used by one worker at a time:
 *      a push build and a page read are steps of the one round (Y1), each
 *      started from the loop after the one before it ended.
 */
#include "daemon/hqsync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "core/pii.h"
#include "core/status.h"
#include "daemon/keys.h"
#include "daemon/log.h"
#include "daemon/net.h"
#include "daemon/sync.h"
#include "daemon/worker.h"

#define PULL_PAGE 500
/* how soon a round starts after the daemon starts or the outbox grows (Y4) */
#define EARLY_MS 1000
#define RESPONSE_MAX (64 * 1024 * 1024)

enum fail_kind { F_NETWORK, F_STATUS, F_SIGNATURE, F_ANSWER, F_LOCAL, F__COUNT };
static const char *const fail_names[F__COUNT] = {"network", "http_status", "signature", "answer",
                                                 "local"};

struct hqsync {
    struct kioskd *k;
    lws_sorted_usec_list_t tick;
    bool started, running, online;
    int failures;         /* consecutive failed rounds */
    int64_t last_success; /* unix seconds; 0: never */
    int64_t clock_shift;  /* seconds added to the signing time (KIOSKD_TEST_CLOCK) */
    struct store *rd;     /* read connection of the push builds (one at a time, Y1) */
    struct pii pii;       /* the branch key, for push builds and page reads (Y6) */
    double due;           /* monotonic time the tick is scheduled for */
    uint64_t rounds, fails[F__COUNT], rewinds, early;
    /* the round in flight */
    int64_t cursor, sent_last, pushed, pulled;
    bool rewound;
    double t0, build_max, read_max;
};

struct ack_run {
    struct store_sync_ack j;
    struct hqsync *hs;
};

struct page_run {
    struct sync_page p;
    struct hqsync *hs;
};

/* A page read on a worker: 500 members took 20 to 55 ms on the loop. */
struct read_run {
    struct work w;
    struct hqsync *hs;
    struct net_req *r; /* HQ's answer, freed on the loop */
    struct page_run *pr;
    char why[160];
    int rc;
    double seconds;
};

/* A push built on a worker: a batch of 500 took 15 to 45 ms on the loop. */
struct build_run {
    struct work w;
    struct hqsync *hs;
    int64_t after, now;
    /* out */
    struct sync_request q;
    int64_t last;
    int count, rc;
    double seconds;
};

static void push_next(struct hqsync *hs);
static void pull_next(struct hqsync *hs);

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool hqsync_enabled(const struct kioskd *k)
{
    return k->cfg.hq_url[0] != '\0';
}

static void tick(lws_sorted_usec_list_t *sul);

/* (Re)schedules the one tick (Y4): a tick already scheduled moves. */
static void schedule(struct hqsync *hs, int64_t ms)
{
    if (hs->started && hs->k->lws) {
        hs->due = mono() + (double)ms / 1000;
        lws_sul_schedule(hs->k->lws, 0, &hs->tick, tick, (lws_usec_t)ms * 1000);
    }
}

/* The time requests are signed with: the clock, shifted by the test hook. */
static int64_t sign_time(const struct hqsync *hs)
{
    return (int64_t)time(NULL) + hs->clock_shift;
}

/* Entries after the cursor, from the writer's counter (no SQL). */
static int64_t outbox_pending(struct hqsync *hs)
{
    struct store_stats ss;
    store_stats(hs->k->store, &ss);
    return ss.outbox_pending;
}

/* Milliseconds before the next round after `failures` failed ones: [hq]
 * interval doubled per failure, at most [hq] max_backoff, then a random
 * point in its upper half (so branches that lost HQ together do not all
 * come back in the same second). */
static int64_t backoff_ms(struct hqsync *hs)
{
    const struct config *c = &hs->k->cfg;
    int64_t d = c->hq_interval * 1000, cap = c->hq_max_backoff * 1000;
    for (int i = 1; i < hs->failures && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    uint32_t r = 0;
    rng_bytes(&hs->k->rng, &r, sizeof r);
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

static void round_success(struct hqsync *hs)
{
    hs->running = false;
    hs->online = true;
    hs->failures = 0;
    hs->rounds++;
    hs->last_success = (int64_t)time(NULL);
    log_info("sync_round", "pushed=%lld pulled=%lld cursor=%lld ms=%.0f build_ms=%.2f read_ms=%.2f",
             (long long)hs->pushed, (long long)hs->pulled, (long long)hs->cursor,
             (mono() - hs->t0) * 1000, hs->build_max * 1000, hs->read_max * 1000);
    /* what was added during the round goes soon; a gap HQ holds is resent then too */
    bool early = outbox_pending(hs) > 0;
    hs->early += early;
    schedule(hs, early ? EARLY_MS : hs->k->cfg.hq_interval * 1000);
}

/* detail is a status, an error code of HQ's or curl's message: never personal data. */
static void round_failed(struct hqsync *hs, const char *step, enum fail_kind kind,
                         const char *detail)
{
    hs->running = false;
    hs->online = false;
    hs->failures++;
    hs->rounds++;
    hs->fails[kind]++;
    metrics_add(&hs->k->metrics, MC_SYNC_FAILURES, 1);
    int64_t next = backoff_ms(hs);
    log_warn("sync_failed", "step=%s kind=%s detail=\"%s\" pushed=%lld failures=%d retry_ms=%lld",
             step, fail_names[kind], detail ? detail : "", (long long)hs->pushed, hs->failures,
             (long long)next);
    schedule(hs, next);
}

static void round_cancelled(struct hqsync *hs, const char *step)
{
    hs->running = false;
    log_info("sync_cancelled", "step=%s pushed=%lld", step, (long long)hs->pushed);
}

/* Sends q (its body is taken) through the net thread; done gets the answer. */
static int hq_send(struct hqsync *hs, struct sync_request *q, net_done_fn done)
{
    struct kioskd *k = hs->k;
    struct net_req *r = net_req_new();
    char line[HQSIG_HEADER_MAX + 32];
    if (!r)
        return KIOSKD_ENOMEM;
    size_t blen = strlen(k->cfg.hq_url);
    while (blen && k->cfg.hq_url[blen - 1] == '/')
        blen--;
    size_t ulen = blen + strlen(q->path) + 1;
    r->url = malloc(ulen);
    int rc = r->url ? 0 : KIOSKD_ENOMEM;
    if (rc == 0)
        snprintf(r->url, ulen, "%.*s%s", (int)blen, k->cfg.hq_url, q->path);
    snprintf(r->method, sizeof r->method, "%s", q->method);
    snprintf(line, sizeof line, "Authorization: %s", q->authorization);
    if (rc == 0)
        rc = net_req_header(r, line);
    if (rc == 0 && strcmp(q->method, "POST") == 0) {
        rc = net_req_header(r, "Content-Type: application/json");
        if (rc == 0 && q->gzip)
            rc = net_req_header(r, "Content-Encoding: gzip");
        r->body = buf_steal(&q->body, &r->body_len);
        if (!r->body)
            r->body = calloc(1, 1);
    }
    if (rc == 0)
        rc = net_req_header(r, "Expect:");
    if (rc == 0 && k->cfg.hq_ca_file[0] && !(r->ca_file = strdup(k->cfg.hq_ca_file)))
        rc = KIOSKD_ENOMEM;
    r->timeout_ms = (long)k->cfg.hq_timeout * 1000;
    r->response_max = RESPONSE_MAX;
    r->done = done;
    r->arg = hs;
    if (rc == 0)
        rc = net_submit(k->net, r);
    if (rc)
        net_req_free(r);
    return rc;
}

/* Classifies a transfer that brought no usable answer; true when the round ended. */
static bool transfer_failed(struct hqsync *hs, struct net_req *r, const char *step)
{
    if (r->rc == KIOSKD_ESHUTDOWN || !hs->started) {
        round_cancelled(hs, step);
        return true;
    }
    if (r->rc) {
        round_failed(hs, step, F_NETWORK, r->error[0] ? r->error : kioskd_strerror(r->rc));
        return true;
    }
    if (r->status == 200)
        return false;
    json_error_t je;
    json_t *doc = json_loadb(r->response.data ? r->response.data : "", r->response.len, 0, &je);
    const char *code = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    char detail[96];
    snprintf(detail, sizeof detail, "%ld%s%.64s", r->status, code ? " " : "", code ? code : "");
    /* 401: HQ refused the request's signature (bad secret, clock, replay, unknown device) */
    round_failed(hs, step, r->status == 401 ? F_SIGNATURE : F_STATUS, detail);
    json_decref(doc);
    return true;
}

/* --- push --- */

static void acked(struct store_job *job)
{
    struct ack_run *a = (struct ack_run *)job;
    struct hqsync *hs = a->hs;
    int rc = job->rc;
    int64_t advanced = a->j.advanced, cursor = a->j.cursor, sent = a->j.sent, got = a->j.acked;
    int64_t rewound = a->j.rewound;
    free(a);
    if (!hs->started) {
        round_cancelled(hs, "push");
        return;
    }
    if (rc) {
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(rc));
        return;
    }
    hs->pushed += advanced;
    if (rewound > 0) {
        /* HQ holds less than the cursor (its database was restored): resend from what it has */
        hs->rewound = true;
        hs->rewinds++;
        log_warn("sync_rewind", "acked_through=%lld from=%lld entries=%lld", (long long)got,
                 (long long)hs->cursor, (long long)rewound);
        hs->cursor = cursor;
        push_next(hs);
        return;
    }
    if (advanced == 0) {
        /* HQ lacks an entry at or before the cursor: nothing this round can fix */
        char detail[64];
        snprintf(detail, sizeof detail, "acked_through %lld only", (long long)got);
        round_failed(hs, "push", F_ANSWER, detail);
        return;
    }
    hs->cursor = cursor;
    if (cursor < sent)
        pull_next(hs); /* HQ holds a gap: the next round resends from the cursor */
    else
        push_next(hs);
}

static void pushed(struct net_req *r)
{
    struct hqsync *hs = r->arg;
    int64_t ack = 0;
    if (transfer_failed(hs, r, "push")) {
        net_req_free(r);
        return;
    }
    int rc = sync_push_answer(r->response.data, r->response.len, &ack);
    net_req_free(r);
    if (rc) {
        round_failed(hs, "push", F_ANSWER, "the answer has no acked_through");
        return;
    }
    struct ack_run *a = calloc(1, sizeof *a);
    if (!a) {
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(KIOSKD_ENOMEM));
        return;
    }
    store_sync_ack_init(&a->j);
    a->hs = hs;
    a->j.acked = ack;
    a->j.sent = hs->sent_last;
    a->j.rewind = !hs->rewound; /* Y5 */
    a->j.job.done = acked;
    if ((rc = store_submit(hs->k->store, &a->j.job)) != 0) {
        free(a);
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(rc));
    }
}

/* On a worker: reads and builds the push through the sync's own connection. */
static void build_run(struct work *w, struct worker_ctx *ctx)
{
    struct build_run *b = (struct build_run *)w;
    unsigned char r[16];
    char nonce[33];
    double t0 = mono();
    b->rc = rng_bytes(&ctx->rng, r, sizeof r) != 0 ? KIOSKD_ECRYPTO : 0;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(nonce + 2 * i, 3, "%02x", r[i]);
    if (b->rc == 0)
        b->rc = sync_push_build_from(b->hs->k, b->hs->rd, &b->hs->pii, nonce, b->after, b->now,
                                     &b->q, &b->last, &b->count);
    b->seconds = mono() - t0;
}

static void built(struct work *w)
{
    struct build_run *b = (struct build_run *)w;
    struct hqsync *hs = b->hs;
    int rc = w->rc ? w->rc : b->rc, count = b->count;
    if (rc == 0 && count > 0 && hs->started) {
        hs->sent_last = b->last;
        rc = hq_send(hs, &b->q, pushed);
    }
    if (b->seconds > hs->build_max)
        hs->build_max = b->seconds;
    sync_request_free(&b->q);
    free(b);
    if (!hs->started || rc == KIOSKD_ESHUTDOWN)
        round_cancelled(hs, "push");
    else if (rc)
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(rc));
    else if (count == 0)
        pull_next(hs);
}

static void push_next(struct hqsync *hs)
{
    struct build_run *b = calloc(1, sizeof *b);
    if (!b) {
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(KIOSKD_ENOMEM));
        return;
    }
    b->hs = hs;
    b->after = hs->cursor;
    b->now = sign_time(hs);
    b->w.run = build_run;
    b->w.done = built;
    b->w.cls = WORK_SLOW; /* never ahead of a check-in's signature */
    int rc = worker_submit(hs->k->workers, &b->w);
    if (rc) {
        free(b);
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(rc));
    }
}

/* --- pull --- */

static void applied(struct store_job *job)
{
    struct page_run *pr = lws_container_of(job, struct page_run, p.job.job);
    struct hqsync *hs = pr->hs;
    int rc = job->rc;
    bool more = pr->p.more;
    int64_t n = rc ? 0 : sync_page_applied(hs->k, &pr->p);
    sync_page_free(&pr->p);
    free(pr);
    if (!hs->started) {
        round_cancelled(hs, "pull");
        return;
    }
    if (rc) {
        round_failed(hs, "pull", F_LOCAL, kioskd_strerror(rc));
        return;
    }
    hs->pulled += n;
    if (more && n > 0)
        pull_next(hs);
    else
        round_success(hs);
}

/* On a worker: checks the page and seals its personal data (Y6). */
static void read_run(struct work *w, struct worker_ctx *ctx)
{
    struct read_run *rr = (struct read_run *)w;
    struct net_req *r = rr->r;
    double t0 = mono();
    rr->rc = sync_pull_read_with(rr->hs->k, &rr->hs->pii, &ctx->rng,
                                 r->response.data ? r->response.data : "", r->response.len,
                                 &rr->pr->p, rr->why, sizeof rr->why);
    rr->seconds = mono() - t0;
}

static void read_done(struct work *w)
{
    struct read_run *rr = (struct read_run *)w;
    struct hqsync *hs = rr->hs;
    struct page_run *pr = rr->pr;
    int rc = w->rc ? w->rc : rr->rc;
    char why[sizeof rr->why];
    snprintf(why, sizeof why, "%s", rr->why);
    if (rr->seconds > hs->read_max)
        hs->read_max = rr->seconds;
    net_req_free(rr->r);
    free(rr);
    if (!hs->started || rc == KIOSKD_ESHUTDOWN) {
        sync_page_free(&pr->p);
        free(pr);
        round_cancelled(hs, "pull");
        return;
    }
    if (rc) {
        sync_page_free(&pr->p);
        free(pr);
        round_failed(hs, "pull", rc == KIOSKD_EMALFORMED ? F_ANSWER : F_LOCAL,
                     why[0] ? why : kioskd_strerror(rc));
        return;
    }
    pr->hs = hs;
    pr->p.job.members = pr->p.members;
    pr->p.job.products = pr->p.products;
    pr->p.job.job.done = applied;
    if ((rc = store_submit(hs->k->store, &pr->p.job.job)) != 0) {
        sync_page_free(&pr->p);
        free(pr);
        round_failed(hs, "pull", F_LOCAL, kioskd_strerror(rc));
    }
}

static void pulled(struct net_req *r)
{
    struct hqsync *hs = r->arg;
    if (transfer_failed(hs, r, "pull")) {
        net_req_free(r);
        return;
    }
    struct read_run *rr = calloc(1, sizeof *rr);
    struct page_run *pr = calloc(1, sizeof *pr);
    int rc = rr && pr ? 0 : KIOSKD_ENOMEM;
    if (rc == 0) {
        rr->hs = hs;
        rr->r = r;
        rr->pr = pr;
        rr->w.run = read_run;
        rr->w.done = read_done;
        rr->w.cls = WORK_SLOW; /* never ahead of a check-in's signature */
        rc = worker_submit(hs->k->workers, &rr->w);
    }
    if (rc) {
        free(rr);
        free(pr);
        net_req_free(r);
        round_failed(hs, "pull", F_LOCAL, kioskd_strerror(rc));
    }
}

static void pull_next(struct hqsync *hs)
{
    struct store_sync_state st;
    struct sync_request q;
    memset(&q, 0, sizeof q);
    int rc = store_sync_state(hs->k->store, &st);
    if (rc == 0)
        rc = sync_pull_build(hs->k, st.pull_cursor[0] ? st.pull_cursor : "0", PULL_PAGE,
                             sign_time(hs), &q);
    if (rc == 0)
        rc = hq_send(hs, &q, pulled);
    sync_request_free(&q);
    if (rc)
        round_failed(hs, "pull", F_LOCAL, kioskd_strerror(rc));
}

/* --- the round --- */

static void tick(lws_sorted_usec_list_t *sul)
{
    struct hqsync *hs = lws_container_of(sul, struct hqsync, tick);
    struct store_sync_state st;
    if (hs->running || !hs->started || hs->k->draining)
        return; /* Y1: the round in flight schedules the next */
    hs->running = true;
    hs->t0 = mono();
    hs->pushed = hs->pulled = 0;
    hs->rewound = false;
    hs->build_max = hs->read_max = 0;
    int rc = store_sync_state(hs->k->store, &st);
    if (rc) {
        round_failed(hs, "push", F_LOCAL, kioskd_strerror(rc));
        return;
    }
    hs->cursor = st.acked_seq;
    push_next(hs);
}

int hqsync_start(struct kioskd *k, char *err, size_t errlen)
{
    if (!hqsync_enabled(k))
        return 0;
    if (!k->cfg.hq_device[0] || !k->cfg.hq_secret[0] || !hqsig_device_ok(k->cfg.hq_device)) {
        snprintf(err, errlen,
                 "[hq] url needs [hq] device (1 to 64 of A-Z a-z 0-9 . _ -) "
                 "and [hq] secret");
        return KIOSKD_ECONFIG;
    }
    if (!k->net || !k->workers) {
        snprintf(err, errlen, "HQ sync needs the net thread and the workers");
        return KIOSKD_EINVAL;
    }
    struct hqsync *hs = calloc(1, sizeof *hs);
    if (!hs) {
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    /* the builds' own read connection and key context: a worker runs them */
    unsigned char master[32];
    int rc = keyfile_pii_master(k->cfg.store_key_file, &k->rng, master, err, errlen);
    if (rc == 0 && (rc = pii_init(&hs->pii, master)) != 0)
        snprintf(err, errlen, "cannot set up the branch key for HQ sync");
    mbedtls_platform_zeroize(master, sizeof master);
    if (rc == 0 && (rc = store_open_reader(k->store, (int)k->cfg.store_busy_timeout, &hs->rd)))
        snprintf(err, errlen, "cannot open a read connection for HQ sync: %s", kioskd_strerror(rc));
    if (rc) {
        pii_free(&hs->pii);
        free(hs);
        return rc;
    }
    hs->k = k;
    hs->started = true;
    /* test hook, never a setting: the branch's clock is off by KIOSKD_TEST_CLOCK
     * seconds for signing too (daemon/main.c checked the number) */
    const char *shift = getenv("KIOSKD_TEST_CLOCK");
    if (shift)
        hs->clock_shift = (int64_t)strtoll(shift, NULL, 10);
    k->hqsync = hs;
    schedule(hs, EARLY_MS);
    log_info("sync_started", "device=%s interval=%lld max_backoff=%lld", k->cfg.hq_device,
             (long long)k->cfg.hq_interval, (long long)k->cfg.hq_max_backoff);
    return 0;
}

void hqsync_outbox_check(struct kioskd *k)
{
    struct hqsync *hs = k->hqsync;
    if (!hs || !hs->started || hs->running || !hs->online || k->draining)
        return; /* a round in flight schedules the next; offline keeps its backoff */
    if (hs->due <= mono() + (double)EARLY_MS / 1000 || outbox_pending(hs) <= 0)
        return;
    hs->early++;
    schedule(hs, EARLY_MS);
}

void hqsync_stop(struct kioskd *k)
{
    struct hqsync *hs = k->hqsync;
    if (!hs || !hs->started)
        return;
    hs->started = false;
    if (k->lws)
        lws_sul_cancel(&hs->tick);
}

void hqsync_free(struct kioskd *k)
{
    if (k->hqsync) {
        store_close(k->hqsync->rd);
        pii_free(&k->hqsync->pii);
    }
    free(k->hqsync);
    k->hqsync = NULL;
}

const char *hqsync_health(const struct kioskd *k)
{
    const struct hqsync *hs = k->hqsync;
    if (!hqsync_enabled(k))
        return "disabled";
    return hs && hs->online ? "online" : "offline";
}

int hqsync_metrics(const struct kioskd *k, struct buf *out)
{
    const struct hqsync *hs = k->hqsync;
    if (!hs)
        return 0;
    int rc = buf_printf(out,
                        "# HELP kioskd_sync_rounds_total Sync rounds with HQ run by the daemon.\n"
                        "# TYPE kioskd_sync_rounds_total counter\n"
                        "kioskd_sync_rounds_total %llu\n"
                        "# HELP kioskd_sync_early_rounds_total Rounds brought forward because "
                        "the outbox grew.\n"
                        "# TYPE kioskd_sync_early_rounds_total counter\n"
                        "kioskd_sync_early_rounds_total %llu\n"
                        "# HELP kioskd_sync_rewinds_total Times HQ acknowledged less than the "
                        "outbox cursor (a restored HQ) and the branch resent from there.\n"
                        "# TYPE kioskd_sync_rewinds_total counter\n"
                        "kioskd_sync_rewinds_total %llu\n"
                        "# HELP kioskd_sync_failures_by_kind_total Failed sync rounds by kind.\n"
                        "# TYPE kioskd_sync_failures_by_kind_total counter\n",
                        (unsigned long long)hs->rounds, (unsigned long long)hs->early,
                        (unsigned long long)hs->rewinds);
    for (int i = 0; i < F__COUNT && rc == 0; i++)
        rc = buf_printf(out, "kioskd_sync_failures_by_kind_total{kind=\"%s\"} %llu\n",
                        fail_names[i], (unsigned long long)hs->fails[i]);
    if (rc == 0)
        rc = buf_printf(out,
                        "# HELP kioskd_sync_last_success_seconds Unix time of the last successful "
                        "sync round (0: none yet).\n"
                        "# TYPE kioskd_sync_last_success_seconds gauge\n"
                        "kioskd_sync_last_success_seconds %lld\n"
                        "# HELP kioskd_hq_online 1 when the last sync round succeeded.\n"
                        "# TYPE kioskd_hq_online gauge\nkioskd_hq_online %d\n",
                        (long long)hs->last_success, hs->online ? 1 : 0);
    return rc;
}
