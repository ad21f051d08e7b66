/*
 * The waitlist of an event for staff, who call the waitlisted guests when a
 * place frees up: the list in order (masked), and the full phone number of
 * one guest to call. Both are one-step writes: they are answered only once
 * their audit line has committed, and the number is never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "core/status.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/events.h"
#include "store/signups.h"

#define WAITLIST_MAX 2000

/* GET /api/v1/events/{id}/waitlist (staff) */
struct waitlist_ctx {
    struct audited_read a;
};

static json_t *waitlist_json(struct kioskd *k, int64_t event_id, int *rc)
{
    struct store_waitlist_row *rows;
    size_t n;
    *rc = store_waitlist(k->store, event_id, WAITLIST_MAX, &rows, &n);
    if (*rc)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        json_t *row = json_pack("{s:I, s:s, s:s, s:I}", "signup_id", (json_int_t)rows[i].signup_id,
                                "name", rows[i].name_mask, "phone_last4", rows[i].phone_last4,
                                "position", (json_int_t)rows[i].position);
        if (!row || json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(rows);
    json_t *doc =
        arr ? json_pack("{s:I, s:o}", "event_id", (json_int_t)event_id, "waitlist", arr) : NULL;
    if (!doc)
        *rc = KIOSKD_ENOMEM;
    return doc;
}

static int waitlist_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct store_event e;
    if (!event_of_path(r, &e))
        return KIOSKD_ENOTFOUND;
    int rc;
    c->doc = waitlist_json(r->k, req_id(r, "id"), &rc);
    if (!c->doc)
        return rc;
    audited_read_audit(c, r, "waitlist_view", "event", e.id);
    return 0;
}

static const struct route_write waitlist_view = {
    .ctx_size = sizeof(struct waitlist_ctx),
    .fill = waitlist_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

/* POST /api/v1/events/{id}/waitlist/{signup_id}/reveal (staff): the full
 * phone number of a waitlisted guest, to call them. */
struct reveal_ctx {
    struct write_ctx w;
    struct store_audit_only job;
    char phone[32];
};

static int reveal_fill(struct req *r, struct write_ctx *w)
{
    struct reveal_ctx *c = (struct reveal_ctx *)w;
    struct store_event e;
    if (!event_of_path(r, &e))
        return KIOSKD_ENOTFOUND;
    int64_t signup_id = req_id(r, "signup_id");
    unsigned char enc[sizeof((struct store_person *)0)->phone_enc];
    size_t len, plen;
    int rc = store_waitlist_phone(r->k->store, req_id(r, "id"), signup_id, enc, sizeof enc, &len);
    if (rc == KIOSKD_ENOTFOUND) {
        req_refuse(r, WHY_SIGNUP_NOT_FOUND);
        return rc;
    }
    if (rc)
        return rc;
    if (pii_open(&r->k->pii, "phone", enc, len, c->phone, sizeof c->phone, &plen) != 0) {
        mbedtls_platform_zeroize(c->phone, sizeof c->phone);
        return KIOSKD_ECRYPTO;
    }
    audit_job_fill(&c->job, r, "waitlist_reveal", "signup", signup_id);
    w->job = &c->job.job;
    return 0;
}

static json_t *reveal_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct reveal_ctx *c = (struct reveal_ctx *)w;
    return json_pack("{s:s}", "phone", c->phone);
}

static void reveal_release(struct write_ctx *w)
{
    struct reveal_ctx *c = (struct reveal_ctx *)w;
    mbedtls_platform_zeroize(c->phone, sizeof c->phone);
}

static const struct route_write waitlist_reveal = {
    .ctx_size = sizeof(struct reveal_ctx),
    .fill = reveal_fill,
    .reply = reveal_reply,
    .release = reveal_release,
};

const struct route waitlist_routes[] = {
    {.method = HTTP_GET,
     .pattern = "/api/v1/events/{id}/waitlist",
     .role = ROLE_STAFF,
     .ids = {WHY_EVENT_NOT_FOUND},
     .write = &waitlist_view},
    {.method = HTTP_POST,
     .pattern = "/api/v1/events/{id}/waitlist/{signup_id}/reveal",
     .role = ROLE_STAFF,
     .flags = ROUTE_JSON,
     .ids = {WHY_EVENT_NOT_FOUND, WHY_SIGNUP_NOT_FOUND},
     .write = &waitlist_reveal},
    {0},
};
