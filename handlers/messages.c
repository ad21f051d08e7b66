/*
 * The message queue for staff: the list (manager), a retry of a failed
 * message (manager), and a member's unsubscribe (staff). What is sent and
 * when is decided by daemon/messages.c and store/messages.c.
 */
#include <stdlib.h>
#include <string.h>

#include "core/msgkind.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/messages.h"

#define LIST_MAX 200

static json_t *when(int64_t t)
{
    char buf[32];
    return t ? json_string(time_format_china(t, buf, sizeof buf)) : json_null();
}

/* GET /api/v1/messages?status=&kind= (manager) */
static void messages_list(struct req *r)
{
    static const char *const statuses[] = {"queued", "sending", "sent", "failed", "skipped"};
    char status[16] = "", kind[32] = "";
    bool long_status = false, long_kind = false;
    if (!req_query_fit(r, "status", status, sizeof status, &long_status))
        status[0] = '\0';
    if (!req_query_fit(r, "kind", kind, sizeof kind, &long_kind))
        kind[0] = '\0';
    bool status_ok = !status[0];
    for (size_t i = 0; i < 5; i++)
        status_ok = status_ok || strcmp(status, statuses[i]) == 0;
    if (long_status || !status_ok) {
        req_error(r, 422, "invalid_fields", "some fields are not valid",
                  json_pack("{s:s}", "status", "must be queued, sending, sent, failed or skipped"));
        return;
    }
    if (long_kind || (kind[0] && msg_kind_from(kind, strlen(kind)) < 0)) {
        req_error(r, 422, "invalid_fields", "some fields are not valid",
                  json_pack("{s:s}", "kind", "is not a kind of message"));
        return;
    }
    struct store_msg_row *rows;
    size_t n;
    int64_t counts[5];
    struct store_msg_today today[STORE_MSG_CHANNELS];
    int ntoday = 0;
    /* today, China time */
    int64_t day_start = now_s() + 8 * 3600;
    day_start = day_start - day_start % 86400 - 8 * 3600;
    int rc = store_msg_list(r->k->store, status, kind, LIST_MAX, &rows, &n);
    if (rc == 0)
        rc = store_msg_counts(r->k->store, counts);
    if (rc == 0)
        rc = store_msg_today(r->k->store, day_start, day_start + 86400, today, &ntoday);
    if (rc) {
        if (rc != KIOSKD_ENOMEM)
            free(rows);
        req_fail(r, rc);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        const struct store_msg_row *m = &rows[i];
        json_t *o =
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:i}", "id", (json_int_t)m->id,
                      "uid", m->uid, "kind", m->kind, "channel", m->channel, "status", m->status,
                      "attempts", (json_int_t)m->attempts, "due_at", when(m->due_at), "next_at",
                      when(m->next_at), "sent_at", when(m->sent_at), "parts", m->parts);
        if (!o)
            continue;
        if (m->error[0])
            json_object_set_new(o, "last_error", json_string(m->error));
        if (m->last4[0])
            json_object_set_new(o, "phone_last4", json_string(m->last4));
        if (m->member_no[0])
            json_object_set_new(o, "member_no", json_string(m->member_no));
        if (m->event_id)
            json_object_set_new(o, "event_id", json_integer(m->event_id));
        if (m->signup_id)
            json_object_set_new(o, "signup_id", json_integer(m->signup_id));
        json_array_append_new(list, o);
    }
    free(rows);
    json_t *by_channel = json_array();
    for (int i = 0; by_channel && i < ntoday; i++)
        json_array_append_new(by_channel,
                              json_pack("{s:s, s:I, s:I, s:I}", "channel", today[i].channel, "due",
                                        (json_int_t)today[i].due, "sent", (json_int_t)today[i].sent,
                                        "failed", (json_int_t)today[i].failed));
    req_json(r, 200,
             json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "messages",
                       list ? list : json_null(), "counts", "queued", (json_int_t)counts[0],
                       "sending", (json_int_t)counts[1], "sent", (json_int_t)counts[2], "failed",
                       (json_int_t)counts[3], "skipped", (json_int_t)counts[4], "today",
                       by_channel ? by_channel : json_null()));
}

/* POST /api/v1/messages/{id}/retry (manager) */
struct retry_ctx {
    struct write_ctx w;
    struct store_msg_retry job;
};

static int retry_fill(struct req *r, struct write_ctx *w)
{
    struct retry_ctx *c = (struct retry_ctx *)w;
    store_msg_retry_init(&c->job);
    c->job.id = req_id(r, "id");
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *retry_reply(struct write_ctx *w, int *status)
{
    struct retry_ctx *c = (struct retry_ctx *)w;
    *status = 200;
    return json_pack("{s:I, s:s}", "id", (json_int_t)c->job.id, "status", "queued");
}

static const struct route_write retry = {
    .ctx_size = sizeof(struct retry_ctx),
    .fill = retry_fill,
    .reply = retry_reply,
};

/* POST /api/v1/members/{member_no}/unsubscribe (staff) */
struct unsub_ctx {
    struct write_ctx w;
    struct store_member_unsubscribe job;
};

static int unsub_fill(struct req *r, struct write_ctx *w)
{
    struct unsub_ctx *c = (struct unsub_ctx *)w;
    store_member_unsubscribe_init(&c->job);
    const char *no = req_param(r, "member_no");
    if (!no || !*no || strlen(no) > MEMBER_NO_MAX) {
        req_refuse(r, WHY_MEMBER_NOT_FOUND);
        return KIOSKD_ENOTFOUND;
    }
    memcpy(c->job.member_no, no, strlen(no) + 1);
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *unsub_reply(struct write_ctx *w, int *status)
{
    struct unsub_ctx *c = (struct unsub_ctx *)w;
    *status = 200;
    return json_pack("{s:s, s:b}", "member_no", c->job.member_no, "opted_out", 1);
}

static const struct route_write unsubscribe = {
    .ctx_size = sizeof(struct unsub_ctx),
    .fill = unsub_fill,
    .reply = unsub_reply,
};

const struct route messages_routes[] = {
    {.method = HTTP_GET, .pattern = "/api/v1/messages", .role = ROLE_MANAGER, .fn = messages_list},
    {.method = HTTP_POST,
     .pattern = "/api/v1/messages/{id}/retry",
     .role = ROLE_MANAGER,
     .ids = {WHY_MESSAGE_NOT_FOUND},
     .write = &retry},
    {.method = HTTP_POST,
     .pattern = "/api/v1/members/{member_no}/unsubscribe",
     .role = ROLE_STAFF,
     .write = &unsubscribe},
    {0},
};
