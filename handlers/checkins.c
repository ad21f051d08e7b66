/*
 * Check-in at the door: by scanned ticket, by event and phone or short code,
 * walk-ins, and undo. A scan of a ticket this daemon issued goes straight to
 * the writer with the code's keyed digest, which must equal the one kept with
 * the sign-up (no ECDSA: codes are deterministic, so the digest names the one
 * valid code); any other scan, or one whose sign-up keeps no digest (taken
 * before migration 0018), is verified on a worker (ECDSA, no network) first.
 * Either way it is decided on the writer thread, so two tablets scanning one
 * ticket at once get one check-in and one already_checked_in.
 *
 * Walk-ins and undo are one-step writes (route rows with a write); a check-in
 * by ticket is a flow (worker, then the same write as the others).
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
#include "store/checkins.h"

struct checkin_ctx {
    struct write_ctx w;
    struct store_checkin job;
    struct ticket_check ticket;
};

static void checkin_effects(struct write_ctx *w)
{
    struct checkin_ctx *c = (struct checkin_ctx *)w;
    struct store_checkin *j = &c->job;
    if (j->already)
        return;
    metrics_add(&w->k->metrics, j->method == CHECKIN_WALKIN ? MC_WALKINS : MC_CHECKINS, 1);
    live_publish(w->k, j->out_event_id,
                 json_pack("{s:s, s:I, s:I, s:s, s:o, s:s}", "type",
                           j->method == CHECKIN_WALKIN ? "walkin" : "checkin", "checkin_id",
                           (json_int_t)j->checkin_id, "signup_id", (json_int_t)j->out_signup_id,
                           "name", j->name_mask, "at", json_time_us(j->at_us), "device",
                           j->by.device));
    if (j->walkin_created)
        events_changed(w->k);
}

/* The member block of a check-in's answer: tier as shown today, balance, and
 * what this check-in earned (0 on a rescan). */
static void add_member(json_t *doc, const struct store_checkin *j)
{
    if (!doc || !j->member)
        return;
    char tier[96];
    tier_shown_today(j->tier, j->trial_tier, j->trial_until, tier, sizeof tier);
    json_object_set_new(doc, "member",
                        json_pack("{s:s, s:s, s:I, s:I}", "member_no", j->member_no, "tier", tier,
                                  "balance", (json_int_t)j->balance, "earned",
                                  (json_int_t)(j->already ? 0 : j->earned)));
}

static json_t *checkin_reply(struct write_ctx *w, int *status)
{
    struct store_checkin *j = &((struct checkin_ctx *)w)->job;
    json_t *doc;
    if (j->already) {
        doc = json_pack("{s:s, s:I, s:I, s:s, s:o, s:s}", "status", "already_checked_in",
                        "checkin_id", (json_int_t)j->checkin_id, "signup_id",
                        (json_int_t)j->out_signup_id, "name", j->name_mask, "first_at",
                        json_time_us(j->at_us), "first_device", j->first_device);
    } else {
        if (j->walkin_created)
            *status = 201;
        doc = json_pack("{s:s, s:I, s:I, s:I, s:s, s:o}", "status", "checked_in", "checkin_id",
                        (json_int_t)j->checkin_id, "signup_id", (json_int_t)j->out_signup_id,
                        "event_id", (json_int_t)j->out_event_id, "name", j->name_mask, "at",
                        json_time_us(j->at_us));
    }
    add_member(doc, j);
    return doc;
}

/* What a refusal tells the tablet beyond its code: for wrong_event the event
 * the ticket is for, for not_open_yet when check-in opens (China time). */
static json_t *checkin_refused(struct write_ctx *w)
{
    struct store_checkin *j = &((struct checkin_ctx *)w)->job;
    if (j->job.why == WHY_WRONG_EVENT && j->out_title[0])
        return json_pack("{s:{s:I, s:s, s:o}}", "event", "id", (json_int_t)j->out_event_id, "title",
                         j->out_title, "starts_at", json_time(j->out_starts_at));
    if (j->job.why == WHY_CHECKIN_NOT_OPEN && j->out_starts_at)
        return json_pack("{s:o}", "opens_at", json_time(j->out_starts_at - j->opens_before));
    return NULL;
}

/* Fills the parts of a check-in job every way of checking in shares. */
static void checkin_common(struct req *r, struct checkin_ctx *c)
{
    struct kioskd *k = r->k;
    store_checkin_init(&c->job);
    c->job.opens_before = k->cfg.events_checkin_opens;
    points_rules_of(k, &c->job.rules);
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    snprintf(c->job.consent_version, sizeof c->job.consent_version, "%s", CONSENT_VERSION);
    snprintf(c->job.kid, sizeof c->job.kid, "%s", k->kid);
    c->w.job = &c->job.job;
}

/* The answer side of POST /api/v1/checkins, reached after the flow below. */
static bool checkin_unverified(struct write_ctx *w);

static const struct route_write checkin_answer = {
    .ctx_size = sizeof(struct checkin_ctx),
    .again = checkin_unverified,
    .effects = checkin_effects,
    .reply = checkin_reply,
    .refused = checkin_refused,
};

/* The writer kept no digest for this ticket: verify its signature on a
 * worker, then submit again (verified). The request stays waiting. */
static bool checkin_unverified(struct write_ctx *w)
{
    struct checkin_ctx *c = (struct checkin_ctx *)w;
    if (w->job->rc != KIOSKD_EREFUSED || w->job->why != WHY_TICKET_UNVERIFIED) {
        if (c->job.by_digest && (w->job->rc == 0 || w->job->rc == KIOSKD_EREFUSED))
            metrics_add(&w->k->metrics, MC_TICKETS_BY_DIGEST, 1);
        return false;
    }
    c->ticket.work.gone = &c->w.wait.gone;
    int rc = w->k->draining ? KIOSKD_ESHUTDOWN : worker_submit(w->k->workers, &c->ticket.work);
    if (rc) {
        struct req *r = req_resume(&c->w.wait);
        if (r)
            req_fail(r, rc);
        free(c);
    }
    return true;
}

/* Submits a check-in by a ticket of this daemon's key by its digest, without
 * verifying its signature (the writer compares). False when the code is not
 * one (then the worker verifies it, as any other). */
static bool checkin_by_digest(struct req *r, struct checkin_ctx *c)
{
    char kid[TICKET_KID_LEN + 1];
    struct ticket_payload p;
    unsigned char digest[TICKET_DIGEST_LEN];
    const char *code = c->ticket.code;
    if (ticket_parse(code, strlen(code), &p, kid) != 0 || strcmp(kid, r->k->kid) != 0 ||
        ticket_digest(r->k->ticket_digest_key, code, strlen(code), digest) != 0)
        return false;
    int64_t event_id = c->job.event_id;
    checkin_common(r, c);
    c->job.method = CHECKIN_TICKET;
    c->job.event_id = event_id;
    c->job.signup_id = p.signup_id;
    c->job.ticket_event_id = p.event_id;
    c->job.issued_at = p.issued_at;
    snprintf(c->job.ticket_kid, sizeof c->job.ticket_kid, "%s", kid);
    c->job.by_digest = true;
    memcpy(c->job.digest, digest, sizeof c->job.digest);
    return true;
}

static void verified(struct work *w)
{
    struct checkin_ctx *c = container_of(w, struct checkin_ctx, ticket.work);
    struct req *r = req_resume(&c->w.wait);
    if (!w->rc)
        metrics_add(&c->w.k->metrics, MC_TICKETS_VERIFIED, 1);
    if (!r) {
        free(c);
        return;
    }
    if (c->ticket.rc) {
        log_info("bad_ticket", "reason=%s", kioskd_strerror(c->ticket.rc));
        ticket_check_refuse(r, c->ticket.rc);
        free(c);
        return;
    }
    int64_t event_id = c->job.event_id; /* the tablet's, kept across the reset */
    checkin_common(r, c);
    c->job.method = CHECKIN_TICKET;
    c->job.event_id = event_id;
    c->job.signup_id = c->ticket.p.signup_id;
    c->job.ticket_event_id = c->ticket.p.event_id;
    c->job.issued_at = c->ticket.p.issued_at;
    snprintf(c->job.ticket_kid, sizeof c->job.ticket_kid, "%s", c->ticket.kid);
    c->job.by_digest = false; /* verified: after a digest the writer had none for */
    req_write_submit(r, &c->w);
}

/* POST /api/v1/checkins {"ticket"}, {"event_id","phone"} or {"event_id","code"}
 * (the 6-digit short code); "event_id" with a ticket names the event the
 * tablet is checking in for. */
static void checkin_create(struct req *r)
{
    struct jv *v = &r->json;
    struct checkin_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    c->w.k = r->k;
    c->w.spec = &checkin_answer;
    const char *ticket = jv_str(v, "ticket", false, 1, 1024);
    int64_t event_id = 0;
    jv_int(v, "event_id", !ticket, 1, INT64_MAX / 2, &event_id);
    if (ticket) {
        if (req_fields_failed(r, v))
            goto out;
        ticket_check_init(&c->ticket, ticket, verified);
        c->job.event_id = event_id;
        if (checkin_by_digest(r, c)) {
            req_write_submit(r, &c->w);
            c = NULL;
            goto out;
        }
        ticket_check_pulled_key(&c->ticket, r->k);
        if (req_submit_work(r, &c->ticket.work, &c->w.wait) == 0)
            c = NULL;
        goto out;
    }
    const char *code = jv_str(v, "code", false, 1, 16);
    const char *phone = code ? NULL : jv_str(v, "phone", true, 1, 64);
    if (code && (strlen(code) != 6 || strspn(code, "0123456789") != 6))
        jv_fail(v, "code", "must be the 6-digit code of the guest's ticket");
    if (phone && !validate_mobile(phone))
        jv_fail(v, "phone", "must be an 11-digit mainland mobile number");
    if (req_fields_failed(r, v))
        goto out;
    checkin_common(r, c);
    c->job.event_id = event_id;
    if (code) {
        c->job.method = CHECKIN_CODE;
        snprintf(c->job.short_code, sizeof c->job.short_code, "%s", code);
    } else {
        c->job.method = CHECKIN_PHONE;
        phone_hash(r->k, phone, c->job.who.phone_hash);
    }
    req_write_submit(r, &c->w);
    c = NULL;
out:
    free(c);
}

/* POST /api/v1/events/{id}/walkins {"name","phone","consent":true} */
static int walkin_fill(struct req *r, struct write_ctx *w)
{
    struct checkin_ctx *c = (struct checkin_ctx *)w;
    struct jv *v = &r->json;
    checkin_common(r, c);
    guest_from_json(r->k, v, "name", "phone", &c->job.who);
    bool consent = false;
    if (jv_bool(v, "consent", true, &consent) && !consent)
        jv_fail(v, "consent", "the guest's consent is required to record them");
    if (!jv_ok(v))
        return KIOSKD_EINVAL;
    c->job.method = CHECKIN_WALKIN;
    c->job.event_id = req_id(r, "id");
    return 0;
}

static const struct route_write walkin = {
    .ctx_size = sizeof(struct checkin_ctx),
    .fill = walkin_fill,
    .effects = checkin_effects,
    .reply = checkin_reply,
    .refused = checkin_refused,
};

/* DELETE /api/v1/checkins/{id} */
struct undo_ctx {
    struct write_ctx w;
    struct store_checkin_undo job;
};

static int undo_fill(struct req *r, struct write_ctx *w)
{
    struct undo_ctx *c = (struct undo_ctx *)w;
    store_checkin_undo_init(&c->job);
    c->job.checkin_id = req_id(r, "id");
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static void undo_effects(struct write_ctx *w)
{
    struct undo_ctx *c = (struct undo_ctx *)w;
    live_publish(w->k, c->job.out_event_id,
                 json_pack("{s:s, s:I, s:I}", "type", "undo", "checkin_id",
                           (json_int_t)c->job.checkin_id, "signup_id",
                           (json_int_t)c->job.out_signup_id));
}

static json_t *undo_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct undo_ctx *c = (struct undo_ctx *)w;
    return json_pack("{s:I, s:s}", "checkin_id", (json_int_t)c->job.checkin_id, "status", "undone");
}

static const struct route_write undo = {
    .ctx_size = sizeof(struct undo_ctx),
    .fill = undo_fill,
    .effects = undo_effects,
    .reply = undo_reply,
};

const struct route checkins_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/checkins",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY,
     .fn = checkin_create},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/checkins/{id}",
     .role = ROLE_STAFF,
     .ids = {WHY_CHECKIN_NOT_FOUND},
     .write = &undo},
    {.method = HTTP_POST,
     .pattern = "/api/v1/events/{id}/walkins",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY,
     .ids = {WHY_EVENT_NOT_FOUND},
     .write = &walkin},
    {0},
};
