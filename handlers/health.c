/* GET /healthz and GET /metrics: what HQ IT's monitoring polls. */
#include <stdio.h>
#include <time.h>

#include "core/status.h"
#include "daemon/hqsync.h"
#include "daemon/http.h"
#include "daemon/live.h"
#include "handlers/handlers.h"

static void healthz(struct req *r)
{
    struct store_stats ss;
    store_stats(r->k->store, &ss);
    /* the folder as it is now: a write refused while it was read-only or
     * away does not keep /healthz degraded once it is back */
    int dir_rc = store_dir_check(r->k->store);
    int last = ss.last_commit_rc == ss.dir_rc ? 0 : ss.last_commit_rc;
    int db_ok = dir_rc == 0 && store_ping(r->k->store) == 0 && last == 0;
    const char *why = dir_rc == KIOSKD_EREADONLY ? "read_only"
                      : dir_rc == KIOSKD_EMOVED  ? "missing"
                      : last == KIOSKD_EFULL     ? "disk_full"
                                                 : "error";
    char body[260];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"db\":\"%s\"%s%s%s,\"hq\":\"%s\","
                     "\"outbox_pending\":%lld}",
                     db_ok ? "ok" : "degraded", db_ok ? "ok" : "error",
                     db_ok ? "" : ",\"db_error\":\"", db_ok ? "" : why, db_ok ? "" : "\"",
                     hqsync_health(r->k), (long long)ss.outbox_pending);
    req_reply(r, db_ok ? 200 : 503, "application/json", body, (size_t)n);
}

static void metrics(struct req *r)
{
    struct store_stats ss;
    struct buf out;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    store_stats(r->k->store, &ss);
    buf_init(&out, 4 * 1024 * 1024);
    int rc = metrics_render(&r->k->metrics, &r->k->router, &ss,
                            (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, &out);
    if (rc) {
        buf_free(&out);
        req_fail(r, rc);
        return;
    }
    rc = buf_printf(&out,
                    "# HELP kioskd_live_connections Tablets connected to the live view.\n"
                    "# TYPE kioskd_live_connections gauge\nkioskd_live_connections %d\n",
                    live_count(r->k));
    if (rc == 0)
        rc = hqsync_metrics(r->k, &out);
    if (rc) {
        buf_free(&out);
        req_fail(r, rc);
        return;
    }
    size_t len;
    char *text = buf_steal(&out, &len);
    req_reply_take(r, 200, "text/plain; version=0.0.4", text, len);
}

const struct route health_routes[] = {
    {.method = HTTP_GET,
     .pattern = "/healthz",
     .flags = ROUTE_PUBLIC | ROUTE_ALWAYS,
     .fn = healthz},
    {.method = HTTP_GET, .pattern = "/metrics", .flags = ROUTE_PUBLIC, .fn = metrics},
    {0},
};
