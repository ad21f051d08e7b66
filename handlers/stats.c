/*
 * The manager's follow-up of one event: where its sign-ups came from (added
 * to the stats answer of handlers/events.c), the guests who held a place and
 * did not come, and the guest list as a CSV file. Both lists show people
 * (masked), so each is answered only once its audit line has committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/csv.h"
#include "core/mask.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "daemon/log.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/events.h"
#include "store/signups.h"
#include "store/stats.h"

#define GUESTS_MAX 2000
#define CSV_MAX (8u << 20)

int stats_add_sources(struct kioskd *k, int64_t event_id, json_t *doc)
{
    struct store_sources src;
    int rc = store_signup_sources(k->store, event_id, &src);
    if (rc)
        return rc;
    json_t *by = json_pack("{s:I, s:I, s:I, s:I, s:I}", "kiosk", (json_int_t)src.kiosk, "bot",
                           (json_int_t)src.bot, "staff", (json_int_t)src.staff, "walkin",
                           (json_int_t)src.walkin, "referral", (json_int_t)src.referral);
    if (!by || json_object_set_new(doc, "by_source", by) != 0)
        return KIOSKD_ENOMEM;
    return 0;
}

/* A guest who held a place (confirmed, not a walk-in) and is not checked in. */
static bool not_in(const struct store_roster_row *row)
{
    return strcmp(row->status, "confirmed") == 0 && strcmp(row->source, "walkin") != 0 &&
           row->checkin_id == 0;
}

/* GET /api/v1/events/{id}/no_shows (staff): once the event has started,
 * the guests with a place who are not checked in (final once it is over). */
struct no_shows_ctx {
    struct audited_read a;
};

static int no_shows_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct store_event e;
    if (!event_of_path(r, &e))
        return KIOSKD_ENOTFOUND;
    int64_t now = now_s();
    if (now < e.starts_at) {
        req_error(r, 409, "not_started", "no-shows are known once the event has started", NULL);
        return KIOSKD_ECONFLICT;
    }
    struct store_roster_row *rows;
    size_t n;
    int rc = store_roster(r->k->store, e.id, NULL, GUESTS_MAX, &rows, &n);
    if (rc)
        return rc;
    json_t *guests = json_array();
    for (size_t i = 0; i < n && guests; i++) {
        if (!not_in(&rows[i]))
            continue;
        char phone[24];
        roster_phone_masked(r->k, &rows[i], phone, sizeof phone);
        if (json_array_append_new(guests, json_pack("{s:I, s:s, s:s, s:s}", "signup_id",
                                                    (json_int_t)rows[i].signup_id, "name",
                                                    rows[i].name_mask, "phone", phone, "source",
                                                    rows[i].source)) != 0) {
            json_decref(guests);
            guests = NULL;
        }
    }
    free(rows);
    c->doc = guests ? json_pack("{s:I, s:b, s:o}", "event_id", (json_int_t)e.id, "over",
                                now > e.ends_at, "guests", guests)
                    : NULL;
    if (!c->doc)
        return KIOSKD_ENOMEM;
    audited_read_audit(c, r, "no_shows_view", "event", e.id);
    return 0;
}

static const struct route_write no_shows = {
    .ctx_size = sizeof(struct no_shows_ctx),
    .fill = no_shows_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

/* GET /api/v1/events/{id}/export.csv (manager): one line per guest (masked),
 * UTF-8 with a BOM so that Excel reads the Chinese. The file is built first,
 * then its audit line is committed, then it is sent. */
struct export_ctx {
    struct store_audit_only job;
    struct req_wait wait;
    char *csv;
    size_t len;
};

static const char *status_label(const char *status)
{
    return strcmp(status, "confirmed") == 0    ? "已报名"
           : strcmp(status, "waitlisted") == 0 ? "候补"
                                               : status;
}

static const char *source_label(const char *source)
{
    static const char *const labels[][2] = {
        {"kiosk", "自助机"}, {"bot", "微信机器人"}, {"staff", "工作人员"}, {"walkin", "现场登记"}};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(source, labels[i][0]) == 0)
            return labels[i][1];
    return source;
}

/* Builds the CSV of event_id into b; 0 or a KIOSKD_E* code. */
static int export_build(struct kioskd *k, int64_t event_id, struct buf *b)
{
    struct store_roster_row *rows;
    size_t n;
    int rc = store_roster(k->store, event_id, NULL, GUESTS_MAX, &rows, &n);
    if (rc)
        return rc;
    rc = buf_puts(b, "\xEF\xBB\xBF"
                     "报名号,姓名,手机,状态,来源,签到时间\r\n");
    for (size_t i = 0; i < n && !rc; i++) {
        const struct store_roster_row *row = &rows[i];
        char id[24], phone[24], at[32] = "";
        snprintf(id, sizeof id, "%lld", (long long)row->signup_id);
        roster_phone_masked(k, row, phone, sizeof phone);
        if (row->checkin_id)
            time_format_china(row->checkin_us / 1000000, at, sizeof at);
        const char *fields[] = {
            id, row->name_mask, phone, status_label(row->status), source_label(row->source), at};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0] && !rc; f++) {
            if (f)
                rc = buf_puts(b, ",");
            if (!rc)
                rc = csv_put_field(b, fields[f]);
        }
        if (!rc)
            rc = buf_puts(b, "\r\n");
    }
    free(rows);
    return rc;
}

static void export_done(struct store_job *job)
{
    struct export_ctx *c = job->arg;
    struct req *r = req_resume(&c->wait);
    if (r && job->rc) {
        req_job_failed(r, job);
    } else if (r) {
        req_header(r, "content-disposition:", "attachment; filename=\"event.csv\"");
        req_header(r, "cache-control:", "no-store");
        req_reply_take(r, 200, "text/csv; charset=utf-8", c->csv, c->len);
        c->csv = NULL;
    }
    free(c->csv);
    free(c);
}

static void export_csv(struct req *r)
{
    struct store_event e;
    if (!event_of_path(r, &e))
        return;
    struct export_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    struct buf b;
    buf_init(&b, CSV_MAX);
    int rc = export_build(r->k, e.id, &b);
    if (rc) {
        buf_free(&b);
        free(c);
        req_fail(r, rc);
        return;
    }
    c->csv = buf_steal(&b, &c->len);
    audit_job_fill(&c->job, r, "export_csv", "event", e.id);
    c->job.job.done = export_done;
    c->job.job.arg = c;
    if (req_submit(r, &c->job.job, &c->wait) != 0) {
        free(c->csv);
        free(c);
    }
}

const struct route stats_routes[] = {
    {.method = HTTP_GET,
     .pattern = "/api/v1/events/{id}/no_shows",
     .role = ROLE_STAFF,
     .ids = {WHY_EVENT_NOT_FOUND},
     .write = &no_shows},
    {.method = HTTP_GET,
     .pattern = "/api/v1/events/{id}/export.csv",
     .role = ROLE_MANAGER,
     .ids = {WHY_EVENT_NOT_FOUND},
     .fn = export_csv},
    {0},
};
