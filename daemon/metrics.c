/* Prometheus metrics. */
#include "daemon/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

int metrics_init(struct metrics *m, size_t nroutes)
{
    memset(m, 0, sizeof *m);
    m->routes = calloc(nroutes + 1, sizeof *m->routes);
    if (!m->routes)
        return KIOSKD_ENOMEM;
    m->nroutes = nroutes;
    for (size_t i = 0; i <= nroutes; i++)
        hist_init(&m->routes[i].latency, hist_latency_bounds, hist_latency_nbounds);
    return 0;
}

void metrics_free(struct metrics *m)
{
    free(m->routes);
    m->routes = NULL;
}

void metrics_request(struct metrics *m, int route, int status, double seconds)
{
    struct route_stat *rs = &m->routes[route < 0 ? m->nroutes : (size_t)route];
    int i;
    for (i = 0; i < rs->nstatus; i++)
        if (rs->status[i] == status)
            break;
    if (i == rs->nstatus) {
        if (rs->nstatus == METRICS_STATUS_SLOTS)
            i = METRICS_STATUS_SLOTS -
                1; /* more distinct statuses than slots: lump into the last */
        else
            rs->status[rs->nstatus++] = (uint16_t)status;
    }
    rs->count[i]++;
    hist_observe(&rs->latency, seconds);
}

void metrics_add(struct metrics *m, enum metric_counter c, uint64_t n)
{
    m->counters[c] += n;
}

static int render_hist(struct buf *out, const char *name, const char *labels, const struct hist *h)
{
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; i < h->nbounds && !rc; i++) {
        cum += h->counts[i];
        rc = buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
                        h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->nbounds];
    char braced[220] = "";
    if (*labels)
        snprintf(braced, sizeof braced, "{%s}", labels);
    if (!rc)
        rc = buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum%s %.6f\n%s_count%s %llu\n",
                        name, labels, *labels ? "," : "", (unsigned long long)cum, name, braced,
                        h->sum, name, braced, (unsigned long long)h->count);
    return rc;
}

static const struct {
    const char *name, *help;
} counter_info[MC__COUNT] = {
    [MC_SIGNUPS] = {"kioskd_signups_total", "Sign-ups recorded."},
    [MC_CHECKINS] = {"kioskd_checkins_total", "Check-ins recorded (tickets and phone look-ups)."},
    [MC_WALKINS] = {"kioskd_walkins_total", "Walk-ins checked in without a sign-up."},
    [MC_RATE_LIMITED] = {"kioskd_rate_limited_total", "Requests refused with 429."},
    [MC_SYNC_FAILURES] = {"kioskd_sync_failures_total", "Failed sync rounds with HQ."},
    [MC_MESSAGES_SENT] = {"kioskd_messages_sent_total", "Messages accepted by a channel."},
    [MC_MESSAGES_FAILED] = {"kioskd_messages_failed_total", "Messages that failed for good."},
    [MC_CLIENTS_GONE] =
        {"kioskd_clients_gone_total",
         "Requests whose client disconnected before the answer (their work still completes)."},
    [MC_TICKETS_BY_DIGEST] = {"kioskd_checkin_tickets_by_digest_total",
                              "Check-in scans of this daemon's own tickets decided by the digest "
                              "kept when the ticket was issued (no ECDSA)."},
    [MC_TICKETS_VERIFIED] = {"kioskd_checkin_tickets_verified_total",
                             "Check-in scans whose signature was verified by ECDSA (other keys, "
                             "sign-ups without a kept digest, codes that are no ticket)."},
};

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

int metrics_render(const struct metrics *m, const struct router *rt, const struct store_stats *ss,
                   int64_t now_us, struct buf *out)
{
    int rc = buf_puts(out, "# HELP kioskd_http_requests_total HTTP requests answered.\n"
                           "# TYPE kioskd_http_requests_total counter\n");
    for (size_t i = 0; i <= m->nroutes && !rc; i++) {
        const struct route_stat *rs = &m->routes[i];
        const char *method = i < m->nroutes ? http_method_name(rt->routes[i]->method) : "";
        const char *pat = i < m->nroutes ? rt->routes[i]->pattern : "unmatched";
        for (int j = 0; j < rs->nstatus && !rc; j++)
            rc = buf_printf(
                out, "kioskd_http_requests_total{route=\"%s%s%s\",status=\"%u\"} %llu\n", method,
                *method ? " " : "", pat, rs->status[j], (unsigned long long)rs->count[j]);
    }
    if (!rc)
        rc = buf_puts(out, "# HELP kioskd_http_request_duration_seconds Time from request to "
                           "answer.\n# TYPE kioskd_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= m->nroutes && !rc; i++) {
        const struct route_stat *rs = &m->routes[i];
        if (rs->latency.count == 0)
            continue;
        char labels[200];
        if (i < m->nroutes)
            snprintf(labels, sizeof labels, "route=\"%s %s\"",
                     http_method_name(rt->routes[i]->method), rt->routes[i]->pattern);
        else
            snprintf(labels, sizeof labels, "route=\"unmatched\"");
        rc = render_hist(out, "kioskd_http_request_duration_seconds", labels, &rs->latency);
    }
    for (int c = 0; c < MC__COUNT && !rc; c++)
        rc = buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_info[c].name,
                        counter_info[c].help, counter_info[c].name, counter_info[c].name,
                        (unsigned long long)m->counters[c]);
    if (!rc)
        rc = buf_printf(
            out,
            "# HELP kioskd_outbox_pending Journal entries not yet acknowledged by HQ.\n"
            "# TYPE kioskd_outbox_pending gauge\nkioskd_outbox_pending %lld\n"
            "# HELP kioskd_store_queue_depth Durable writes waiting for the writer.\n"
            "# TYPE kioskd_store_queue_depth gauge\nkioskd_store_queue_depth %d\n"
            "# HELP kioskd_store_jobs_total Durable writes run by the writer.\n"
            "# TYPE kioskd_store_jobs_total counter\nkioskd_store_jobs_total %llu\n"
            "# HELP kioskd_store_jobs_failed_total Durable writes that failed or rolled back.\n"
            "# TYPE kioskd_store_jobs_failed_total counter\nkioskd_store_jobs_failed_total %llu\n"
            "# HELP kioskd_store_commits_failed_total Commits that failed (disk full, I/O).\n"
            "# TYPE kioskd_store_commits_failed_total counter\nkioskd_store_commits_failed_total "
            "%llu\n"
            "# HELP kioskd_store_batch_size Jobs per commit (group commit).\n"
            "# TYPE kioskd_store_batch_size histogram\n",
            (long long)ss->outbox_pending, ss->queue_depth, (unsigned long long)ss->jobs,
            (unsigned long long)ss->jobs_failed, (unsigned long long)ss->commits_failed);
    if (!rc)
        rc = render_hist(out, "kioskd_store_batch_size", "", &ss->batch_size);
    if (!rc)
        rc = buf_puts(out, "# HELP kioskd_store_commit_seconds Time to run and commit one batch.\n"
                           "# TYPE kioskd_store_commit_seconds histogram\n");
    if (!rc)
        rc = render_hist(out, "kioskd_store_commit_seconds", "", &ss->commit_seconds);
    if (!rc)
        rc = buf_printf(
            out,
            "# HELP kioskd_resident_memory_bytes Resident set size.\n"
            "# TYPE kioskd_resident_memory_bytes gauge\nkioskd_resident_memory_bytes %ld\n"
            "# HELP kioskd_uptime_seconds Seconds since start.\n"
            "# TYPE kioskd_uptime_seconds gauge\nkioskd_uptime_seconds %lld\n",
            rss_kib() * 1024, (long long)((now_us - m->started_us) / 1000000));
    return rc;
}
