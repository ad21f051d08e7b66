/*
 * Check-in at the door: by scanned ticket or by event and phone, walk-ins,
 * and undo. A scan is verified on a worker (ECDSA, no network), then decided
 * on the writer thread, so two tablets scanning one ticket at once get one
 * check-in and one already_checked_in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/validate.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/worker.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/signups.h"

struct checkin_ctx {
    struct store_checkin job;
    struct ticket_check ticket;
    struct req_wait wait;
    struct kioskd *k;
};

static const char *refusal_message(const char *why)
{
    static const struct {
        const char *why, *message;
    } msgs[] = {
        {"wrong_event", "this ticket is for another event"},
        {"not_open_yet", "check-in opens two hours before the event starts"},
        {"event_over", "this event is over"},
        {"waitlisted", "this guest is on the waitlist; admit them as a walk-in if there is room"},
        {"ticket_cancelled", "this ticket was cancelled"},
        {"ticket_replaced", "this ticket was replaced by a newer one"},
        {"signup_cancelled", "this sign-up was cancelled"},
        {"event_cancelled", "this event was cancelled"},
        {"unknown_ticket", "this ticket is not known here"},
        {"no_signup", "no sign-up with this phone for this event"},
        {"no_event", "no such event"},
    };
    for (size_t i = 0; why && i < sizeof msgs / sizeof msgs[0]; i++)
        if (strcmp(msgs[i].why, why) == 0)
            return msgs[i].message;
    return "refused";
}

static void checkin_stored(struct store_job *job)
{
    struct checkin_ctx *c = container_of(job, struct checkin_ctx, job.job);
    struct kioskd *k = c->k;
    struct store_checkin *j = &c->job;
    struct req *r = req_resume(&c->wait);
    if (job->rc == 0 && !j->already) {
        metrics_add(&k->metrics, j->method == CHECKIN_WALKIN ? MC_WALKINS : MC_CHECKINS, 1);
        live_publish(k, j->out_event_id,
                     json_pack("{s:s, s:I, s:I, s:s, s:o, s:s}", "type",
                               j->method == CHECKIN_WALKIN ? "walkin" : "checkin", "checkin_id",
                               (json_int_t)j->checkin_id, "signup_id", (json_int_t)j->out_signup_id,
                               "name", j->name_mask, "at", json_time_us(j->at_us), "device",
                               j->by.device));
        if (j->walkin_created)
            events_changed(k);
    }
    if (r) {
        if (job->rc == KIOSKD_ENOTFOUND && j->why && strcmp(j->why, "unknown_ticket") == 0)
            req_error(r, 403, "bad_ticket", refusal_message(j->why), NULL);
        else if (job->rc == KIOSKD_ENOTFOUND && j->why && strcmp(j->why, "no_event") == 0)
            req_error(r, 404, "event_not_found", refusal_message(j->why), NULL);
        else if (job->rc)
            req_fail_why(r, job->rc, j->why, refusal_message(j->why));
        else if (j->already)
            req_json(r, 200,
                     json_pack("{s:s, s:I, s:I, s:s, s:o, s:s}", "status", "already_checked_in",
                               "checkin_id", (json_int_t)j->checkin_id, "signup_id",
                               (json_int_t)j->out_signup_id, "name", j->name_mask, "first_at",
                               json_time_us(j->at_us), "first_device", j->first_device));
        else
            req_json(r, j->walkin_created ? 201 : 200,
                     json_pack("{s:s, s:I, s:I, s:I, s:s, s:o}", "status", "checked_in",
                               "checkin_id", (json_int_t)j->checkin_id, "signup_id",
                               (json_int_t)j->out_signup_id, "event_id",
                               (json_int_t)j->out_event_id, "name", j->name_mask, "at",
                               json_time_us(j->at_us)));
    }
    free(c);
}

static int checkin_submit(struct req *r, struct checkin_ctx *c)
{
    struct kioskd *k = r->k;
    store_checkin_init(&c->job);
    c->job.job.done = checkin_stored;
    c->job.opens_before = k->cfg.events_checkin_opens;
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    snprintf(c->job.consent_version, sizeof c->job.consent_version, "%s", CONSENT_VERSION);
    snprintf(c->job.kid, sizeof c->job.kid, "%s", k->kid);
    return req_submit(r, &c->job.job, &c->wait);
}

static void verified(struct work *w)
{
    struct checkin_ctx *c = container_of(w, struct checkin_ctx, ticket.work);
    struct req *r = req_resume(&c->wait);
    if (!r) {
        free(c);
        return;
    }
    if (c->ticket.rc) {
        log_info("bad_ticket", "reason=%s", kioskd_strerror(c->ticket.rc));
        req_error(r, 403, "bad_ticket", "this is not a valid ticket", NULL);
        free(c);
        return;
    }
    c->job.method = CHECKIN_TICKET;
    c->job.signup_id = c->ticket.p.signup_id;
    c->job.ticket_event_id = c->ticket.p.event_id;
    c->job.issued_at = c->ticket.p.issued_at;
    if (checkin_submit(r, c) != 0)
        free(c);
}

/* POST /api/v1/checkins {"ticket"} or {"event_id","phone"}; "event_id" with a
 * ticket names the event the tablet is checking in for. */
static void checkin_create(struct req *r)
{
    struct jv v;
    struct checkin_ctx *c = NULL;
    if (!req_body_json(r, &v))
        goto out;
    c = req_calloc(r, sizeof *c);
    if (!c)
        goto out;
    c->k = r->k;
    const char *ticket = jv_str(&v, "ticket", false, 1, 1024);
    int64_t event_id = 0;
    jv_int(&v, "event_id", !ticket, 1, INT64_MAX / 2, &event_id);
    if (ticket) {
        if (req_fields_failed(r, &v))
            goto out;
        ticket_check_init(&c->ticket, ticket, verified);
        c->job.event_id = event_id;
        if (req_submit_work(r, &c->ticket.work, &c->wait) == 0)
            c = NULL;
        goto out;
    }
    const char *phone = jv_str(&v, "phone", true, 1, 64);
    if (phone && !validate_mobile(phone))
        jv_fail(&v, "phone", "must be an 11-digit mainland mobile number");
    if (req_fields_failed(r, &v))
        goto out;
    c->job.method = CHECKIN_PHONE;
    c->job.event_id = event_id;
    phone_hash(r->k, phone, c->job.who.phone_hash);
    if (checkin_submit(r, c) == 0)
        c = NULL;
out:
    free(c);
    jv_free(&v);
}

/* POST /api/v1/events/{id}/walkins {"name","phone","consent":true} */
static void walkin_create(struct req *r)
{
    struct jv v;
    struct checkin_ctx *c = NULL;
    int64_t event_id = req_id_param(r, "id", "event_not_found");
    if (event_id < 0)
        return;
    if (!req_body_json(r, &v))
        goto out;
    c = req_calloc(r, sizeof *c);
    if (!c)
        goto out;
    c->k = r->k;
    guest_from_json(r->k, &v, "name", "phone", &c->job.who);
    bool consent = false;
    if (jv_bool(&v, "consent", true, &consent) && !consent)
        jv_fail(&v, "consent", "the guest's consent is required to record them");
    if (req_fields_failed(r, &v))
        goto out;
    c->job.method = CHECKIN_WALKIN;
    c->job.event_id = event_id;
    if (checkin_submit(r, c) == 0)
        c = NULL;
out:
    free(c);
    jv_free(&v);
}

struct undo_ctx {
    struct store_checkin_undo job;
    struct req_wait wait;
    struct kioskd *k;
};

static void undone(struct store_job *job)
{
    struct undo_ctx *c = container_of(job, struct undo_ctx, job.job);
    struct req *r = req_resume(&c->wait);
    if (job->rc == 0)
        live_publish(c->k, c->job.out_event_id,
                     json_pack("{s:s, s:I, s:I}", "type", "undo", "checkin_id",
                               (json_int_t)c->job.checkin_id, "signup_id",
                               (json_int_t)c->job.out_signup_id));
    if (r) {
        if (job->rc == KIOSKD_ENOTFOUND)
            req_error(r, 404, "checkin_not_found", "no such check-in", NULL);
        else if (job->rc)
            req_fail_why(r, job->rc, c->job.why, "this check-in was already undone");
        else
            req_json(r, 200,
                     json_pack("{s:I, s:s}", "checkin_id", (json_int_t)c->job.checkin_id, "status",
                               "undone"));
    }
    free(c);
}

/* DELETE /api/v1/checkins/{id} */
static void checkin_undo(struct req *r)
{
    int64_t id = req_id_param(r, "id", "checkin_not_found");
    if (id < 0)
        return;
    struct undo_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    store_checkin_undo_init(&c->job);
    c->job.job.done = undone;
    c->job.checkin_id = id;
    c->k = r->k;
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    if (req_submit(r, &c->job.job, &c->wait) != 0)
        free(c);
}

const struct route checkins_routes[] = {
    {HTTP_POST, "/api/v1/checkins", checkin_create, ROLE_STAFF, ROUTE_JSON, 0},
    {HTTP_DELETE, "/api/v1/checkins/{id}", checkin_undo, ROLE_STAFF, 0, 0},
    {HTTP_POST, "/api/v1/events/{id}/walkins", walkin_create, ROLE_STAFF, ROUTE_JSON, 0},
    {0, NULL, NULL, 0, 0, 0},
};
