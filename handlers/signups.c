/*
 * Sign-ups at the kiosk and their QR tickets: signing up (idempotent per
 * event and phone), cancelling (staff, or the guest holding the ticket), and
 * the ticket's QR image.
 *
 * A sign-up is answered after two steps off the loop: the store commits it
 * (writer thread), then a worker signs its ticket. Tickets are signed
 * deterministically, so the same sign-up always gets the same code.
 */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"
#include "core/mask.h"
#include "core/pii.h"
#include "core/qr.h"
#include "core/status.h"
#include "core/validate.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/messages.h"
#include "daemon/worker.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/events.h"
#include "store/messages.h"
#include "store/signups.h"

struct signup_ctx {
    struct store_signup_new job;
    struct work work;
    struct req_wait wait;
    struct kioskd *k;
    char code[TICKET_CODE_MAX + 1];
    int sign_rc;
    int digest_rc;
    unsigned char digest[TICKET_DIGEST_LEN];
};

/* The ticket part of an answer: code and the URLs of its images. */
static json_t *ticket_json(const char *code, const char *short_code)
{
    char svg[TICKET_CODE_MAX + 40], png[TICKET_CODE_MAX + 40];
    snprintf(svg, sizeof svg, "/api/v1/tickets/%s.svg", code);
    snprintf(png, sizeof png, "/api/v1/tickets/%s.png", code);
    return json_pack("{s:s, s:s, s:s, s:s}", "code", code, "short_code", short_code, "qr_svg", svg,
                     "qr_png", png);
}

static void sign_run(struct work *w, struct worker_ctx *ctx)
{
    struct signup_ctx *c = container_of(w, struct signup_ctx, work);
    struct ticket_payload p = {c->job.event_id, c->job.signup_id, c->job.issued_at};
    c->sign_rc = ticket_sign(&ctx->sign_key, &ctx->rng, &p, c->code, sizeof c->code);
    c->digest_rc =
        c->sign_rc ? c->sign_rc
                   : ticket_digest(c->k->ticket_digest_key, c->code, strlen(c->code), c->digest);
}

static void digest_stored(struct store_job *job)
{
    free(container_of(job, struct store_ticket_digest, job));
}

/* Keeps the digest of the ticket just signed with its sign-up, for check-ins
 * (handlers/checkins.c). Not waited for and not required: a ticket whose
 * digest is missing (no memory, its lane full, a crash before the commit) is
 * verified by its signature instead. */
static void keep_digest(struct signup_ctx *c)
{
    if (c->digest_rc)
        return;
    struct store_ticket_digest *d = malloc(sizeof *d);
    if (!d)
        return;
    store_ticket_digest_init(d);
    d->job.done = digest_stored;
    d->signup_id = c->job.signup_id;
    d->issued_at = c->job.issued_at;
    snprintf(d->kid, sizeof d->kid, "%s", c->k->kid);
    memcpy(d->digest, c->digest, sizeof d->digest);
    if (store_submit_spare(c->k->store, &d->job) != 0)
        free(d);
}

static void signed_done(struct work *w)
{
    struct signup_ctx *c = container_of(w, struct signup_ctx, work);
    struct req *r = req_resume(&c->wait);
    if (!w->rc)
        keep_digest(c);
    if (r) {
        if (w->rc || c->sign_rc) {
            req_fail(r, w->rc ? w->rc : c->sign_rc);
        } else {
            json_t *doc =
                json_pack("{s:I, s:I, s:s, s:o}", "signup_id", (json_int_t)c->job.signup_id,
                          "event_id", (json_int_t)c->job.event_id, "status", c->job.status,
                          "ticket", ticket_json(c->code, c->job.short_code));
            if (doc && c->job.waitlist_position > 0)
                json_object_set_new(doc, "waitlist_position",
                                    json_integer(c->job.waitlist_position));
            req_json(r, c->job.existed ? 200 : 201, doc);
        }
    }
    free(c);
}

static void signup_stored(struct store_job *job)
{
    struct signup_ctx *c = container_of(job, struct signup_ctx, job.job);
    struct kioskd *k = c->k;
    if (job->rc) {
        struct req *r = req_resume(&c->wait);
        if (r)
            req_job_failed(r, job);
        free(c);
        return;
    }
    if (!c->job.existed) {
        metrics_add(&k->metrics, MC_SIGNUPS, 1);
        messages_signed_up(k); /* the confirmation */
        events_changed(k);
        live_publish(k, c->job.event_id,
                     json_pack("{s:s, s:I, s:s, s:s}", "type", "signup", "signup_id",
                               (json_int_t)c->job.signup_id, "status", c->job.status, "name",
                               c->job.who.name_mask));
    }
    if (!c->wait.req) { /* the guest left; the sign-up stands and the ticket can be re-read */
        free(c);
        return;
    }
    c->work.run = sign_run;
    c->work.done = signed_done;
    c->work.gone = &c->wait.gone;
    /* the sign-up is committed: its ticket is signed even when the queue is
     * full (refused only once the workers have stopped, when no client remains
     * to be answered) */
    int rc = worker_submit_committed(k->workers, &c->work);
    if (rc) {
        struct req *r = req_resume(&c->wait);
        if (r)
            req_fail(r, rc);
        free(c);
    }
}

/* POST /api/v1/events/{id}/signups {"name","phone","consent":true,"member_no"?,"referrer_phone"?,
 * "campaign"?} */
static void signup_create(struct req *r)
{
    struct kioskd *k = r->k;
    struct jv *v = &r->json;
    int wait = limit_take(k->signup_rl, r->peer);
    if (wait) {
        metrics_add(&k->metrics, MC_RATE_LIMITED, 1);
        r->retry_after = wait;
        req_error(r, 429, "rate_limited", "too many sign-ups from this address; wait a minute",
                  NULL);
        return;
    }
    struct signup_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    store_signup_new_init(&c->job);
    guest_from_json(k, v, "name", "phone", &c->job.who);
    bool consent = false;
    if (jv_bool(v, "consent", true, &consent) && !consent)
        jv_fail(v, "consent", "consent is required to sign up");
    const char *member = jv_str(v, "member_no", false, 1, 32);
    if (member &&
        strspn(member, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            strlen(member))
        jv_fail(v, "member_no", "may hold only letters, digits, '-' and '_'");
    else if (member)
        snprintf(c->job.member_no, sizeof c->job.member_no, "%s", member);
    const char *ref = jv_str(v, "referrer_phone", false, 0, 64);
    if (ref && *ref) {
        const char *phone = json_string_value(json_object_get(v->root, "phone"));
        if (!validate_mobile(ref))
            jv_fail(v, "referrer_phone", "must be an 11-digit mainland mobile number");
        else if (phone && strcmp(ref, phone) == 0)
            jv_fail(v, "referrer_phone", "a guest cannot refer themselves");
        else {
            phone_hash(k, ref, c->job.referrer_hash);
            c->job.has_referrer = true;
        }
    }
    const char *campaign = jv_str(v, "campaign", false, 0, CAMPAIGN_CODE_LEN); /* invitation */
    if (campaign && *campaign && !campaign_code_ok(campaign))
        jv_fail(v, "campaign", "must be an invitation's campaign code");
    else if (campaign)
        snprintf(c->job.campaign, sizeof c->job.campaign, "%s", campaign);
    if (req_fields_failed(r, v))
        goto out;
    c->k = k;
    c->job.job.done = signup_stored;
    c->job.event_id = req_id(r, "id");
    c->job.now = now_s();
    c->job.phone_limit = k->cfg.kiosk_signups_per_phone;
    snprintf(c->job.source, sizeof c->job.source, "kiosk");
    snprintf(c->job.consent_version, sizeof c->job.consent_version, "%s", CONSENT_VERSION);
    snprintf(c->job.kid, sizeof c->job.kid, "%s", k->kid);
    if (req_submit(r, &c->job.job, &c->wait) == 0)
        c = NULL;
out:
    free(c);
}

/* --- cancelling --- */

struct cancel_ctx {
    struct write_ctx w;
    struct store_signup_cancel job;
    struct ticket_check ticket; /* when the guest cancels with their ticket */
};

static void cancel_effects(struct write_ctx *w)
{
    struct cancel_ctx *c = (struct cancel_ctx *)w;
    events_changed(w->k);
    live_publish(w->k, c->job.out_event_id,
                 json_pack("{s:s, s:I}", "type", "signup_cancelled", "signup_id",
                           (json_int_t)c->job.signup_id));
    if (c->job.promoted_signup_id)
        live_publish(w->k, c->job.out_event_id,
                     json_pack("{s:s, s:I}", "type", "waitlist_promoted", "signup_id",
                               (json_int_t)c->job.promoted_signup_id));
}

static json_t *cancel_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct cancel_ctx *c = (struct cancel_ctx *)w;
    return json_pack("{s:I, s:s}", "signup_id", (json_int_t)c->job.signup_id, "status",
                     "cancelled");
}

/* DELETE /api/v1/events/{id}/signups/{signup_id} (staff) */
static int cancel_fill(struct req *r, struct write_ctx *w)
{
    struct cancel_ctx *c = (struct cancel_ctx *)w;
    store_signup_cancel_init(&c->job);
    c->job.signup_id = req_id(r, "signup_id");
    c->job.event_id = req_id(r, "id");
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static const struct route_write signup_cancel_staff = {
    .ctx_size = sizeof(struct cancel_ctx),
    .fill = cancel_fill,
    .effects = cancel_effects,
    .reply = cancel_reply,
};

/* The answer side of a guest's cancellation, reached after the ticket's check. */
static const struct route_write cancel_answer = {
    .ctx_size = sizeof(struct cancel_ctx),
    .effects = cancel_effects,
    .reply = cancel_reply,
};

static void cancel_verified(struct work *w)
{
    struct cancel_ctx *c = container_of(w, struct cancel_ctx, ticket.work);
    struct req *r = req_resume(&c->w.wait);
    if (!r) {
        free(c);
        return;
    }
    if (c->ticket.rc) {
        ticket_check_refuse(r, c->ticket.rc);
        free(c);
        return;
    }
    store_signup_cancel_init(&c->job);
    c->job.signup_id = c->ticket.p.signup_id;
    c->job.event_id = c->ticket.p.event_id;
    c->job.issued_at = c->ticket.p.issued_at;
    store_actor_set(&c->job.by, NULL, "guest");
    c->w.job = &c->job.job;
    req_write_submit(r, &c->w);
}

/* DELETE /api/v1/tickets/{code}: the guest cancels with their ticket. */
static void ticket_cancel(struct req *r)
{
    struct cancel_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    c->w.k = r->k;
    c->w.spec = &cancel_answer;
    ticket_check_init(&c->ticket, req_param(r, "code"), cancel_verified);
    if (req_submit_work(r, &c->ticket.work, &c->w.wait) != 0)
        free(c);
}

/* --- QR images --- */

struct image_ctx {
    struct ticket_check ticket;
    struct req_wait wait;
    bool png;
    int rc;
    struct buf image;
};

static void image_run(struct work *w, struct worker_ctx *ctx)
{
    struct image_ctx *c = container_of(w, struct image_ctx, ticket.work);
    ticket_check_verify(&c->ticket, ctx);
    c->rc = c->ticket.rc;
    if (c->rc == 0)
        c->rc = c->png ? qr_png(c->ticket.code, 300, &c->image) : qr_svg(c->ticket.code, &c->image);
}

static void image_done(struct work *w)
{
    struct image_ctx *c = container_of(w, struct image_ctx, ticket.work);
    struct req *r = req_resume(&c->wait);
    if (r) {
        enum store_why why = WHY_NONE;
        int rc = c->rc;
        if (rc == KIOSKD_EMALFORMED || rc == KIOSKD_EBADSIG || rc == KIOSKD_ENOTFOUND)
            why = WHY_TICKET_NOT_FOUND;
        else if (rc == 0)
            rc = store_ticket_state(r->k->store, c->ticket.p.signup_id, c->ticket.p.event_id,
                                    c->ticket.p.issued_at, &why);
        if (why == WHY_UNKNOWN_TICKET)
            why = WHY_TICKET_NOT_FOUND; /* no image of a ticket this daemon never issued */
        if (why != WHY_NONE) {
            req_refuse(r, why);
        } else if (rc) {
            req_fail(r, rc);
        } else {
            size_t len;
            char *data = buf_steal(&c->image, &len);
            req_reply_take(r, 200, c->png ? "image/png" : "image/svg+xml", data, len);
        }
    }
    buf_free(&c->image);
    free(c);
}

static void ticket_image(struct req *r, bool png)
{
    struct image_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    ticket_check_init(&c->ticket, req_param(r, "code"), image_done);
    c->ticket.work.run = image_run;
    c->png = png;
    buf_init(&c->image, 256 * 1024);
    if (req_submit_work(r, &c->ticket.work, &c->wait) != 0) {
        buf_free(&c->image);
        free(c);
    }
}

/* --- the guest's ticket, for the page /t/{code} --- */

struct info_ctx {
    struct ticket_check ticket;
    struct req_wait wait;
};

static void ticket_info_done(struct work *w)
{
    struct info_ctx *c = container_of(w, struct info_ctx, ticket.work);
    struct ticket_check *t = &c->ticket;
    struct req *r = req_resume(&c->wait);
    if (r) {
        enum store_why why = WHY_NONE;
        struct store_ticket view;
        struct store_event ev;
        int rc = t->rc;
        if (rc == KIOSKD_EMALFORMED || rc == KIOSKD_EBADSIG || rc == KIOSKD_ENOTFOUND)
            why = WHY_TICKET_NOT_FOUND;
        else if (rc == 0)
            rc = store_ticket_view(r->k->store, t->p.signup_id, t->p.event_id, t->p.issued_at, &why,
                                   &view);
        if (why == WHY_UNKNOWN_TICKET)
            why = WHY_TICKET_NOT_FOUND;
        if (why == WHY_NONE && rc == 0)
            rc = store_event_get(r->k->store, t->p.event_id, &ev);
        if (why != WHY_NONE)
            req_refuse(r, why);
        else if (rc)
            req_fail(r, rc);
        else
            req_json(r, 200,
                     json_pack("{s:I, s:s, s:s, s:s, s:o}", "signup_id", (json_int_t)t->p.signup_id,
                               "status", view.status, "short_code", view.short_code, "name",
                               view.name_mask, "event", event_json(&ev)));
    }
    free(c);
}

/* GET /api/v1/tickets/{code}: the ticket's sign-up (masked) and event, for
 * the guest's own page. Knowing the code is the proof, as for its images. */
static void ticket_info(struct req *r)
{
    struct info_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    ticket_check_init(&c->ticket, req_param(r, "code"), ticket_info_done);
    if (req_submit_work(r, &c->ticket.work, &c->wait) != 0)
        free(c);
}

/* --- the ticket link by SMS, asked for on the kiosk's ticket screen --- */

struct sms_ctx {
    struct ticket_check ticket;
    struct req_wait wait;
    struct store_msg_ticket_link job;
};

/* A code that does not verify, or that this store never issued, is 404 as
 * for the ticket's page: nothing tells a stranger which codes are close. */
static enum store_why ticket_not_found(enum store_why why)
{
    return why == WHY_UNKNOWN_TICKET ? WHY_TICKET_NOT_FOUND : why;
}

static void sms_queued(struct store_job *job)
{
    struct sms_ctx *c = container_of(job, struct sms_ctx, job.job);
    struct req *r = req_resume(&c->wait);
    if (!r) {
        free(c);
        return;
    }
    if (job->rc == KIOSKD_EREFUSED) {
        req_refuse(r, ticket_not_found(job->why));
    } else if (job->rc) {
        req_job_failed(r, job);
    } else {
        char plain[32], masked[24] = "";
        size_t len;
        if (pii_open(&r->k->pii, "phone", c->job.phone_enc, c->job.phone_enc_len, plain,
                     sizeof plain, &len) == 0)
            mask_phone(plain, masked, sizeof masked);
        mbedtls_platform_zeroize(plain, sizeof plain);
        req_json(r, 202,
                 json_pack("{s:s, s:I}", "phone", masked, "sends_left",
                           (json_int_t)(c->job.max_sends - c->job.sends)));
    }
    free(c);
}

static void sms_verified(struct work *w)
{
    struct sms_ctx *c = container_of(w, struct sms_ctx, ticket.work);
    struct req *r = req_resume(&c->wait);
    if (!r) {
        free(c);
        return;
    }
    int rc = c->ticket.rc;
    if (rc == KIOSKD_EMALFORMED || rc == KIOSKD_EBADSIG || rc == KIOSKD_ENOTFOUND) {
        req_refuse(r, WHY_TICKET_NOT_FOUND);
        free(c);
        return;
    }
    if (rc) {
        req_fail(r, rc);
        free(c);
        return;
    }
    store_msg_ticket_link_init(&c->job);
    c->job.job.done = sms_queued;
    c->job.signup_id = c->ticket.p.signup_id;
    c->job.event_id = c->ticket.p.event_id;
    c->job.issued_at = c->ticket.p.issued_at;
    c->job.channel = "sms";
    if (req_submit(r, &c->job.job, &c->wait) != 0)
        free(c);
}

/* POST /api/v1/tickets/{code}/sms (no body, or {}): sends the ticket's link
 * to the sign-up's phone. Knowing the code is the proof; the answer names the
 * phone masked only. */
static void ticket_sms(struct req *r)
{
    struct kioskd *k = r->k;
    if (!messages_sms_on(k)) {
        req_refuse(r, WHY_SMS_OFF);
        return;
    }
    int wait = limit_take(k->signup_rl, r->peer);
    if (wait) {
        metrics_add(&k->metrics, MC_RATE_LIMITED, 1);
        r->retry_after = wait;
        req_error(r, 429, "rate_limited", "too many requests from this address; wait a minute",
                  NULL);
        return;
    }
    struct sms_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    ticket_check_init(&c->ticket, req_param(r, "code"), sms_verified);
    if (req_submit_work(r, &c->ticket.work, &c->wait) != 0)
        free(c);
}

static void ticket_svg(struct req *r)
{
    ticket_image(r, false);
}

static void ticket_png(struct req *r)
{
    ticket_image(r, true);
}

const struct route signups_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/events/{id}/signups",
     .flags = ROUTE_PUBLIC | ROUTE_BODY,
     .ids = {WHY_EVENT_NOT_FOUND},
     .fn = signup_create},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/events/{id}/signups/{signup_id}",
     .role = ROLE_STAFF,
     .ids = {WHY_EVENT_NOT_FOUND, WHY_SIGNUP_NOT_FOUND},
     .write = &signup_cancel_staff},
    {.method = HTTP_GET,
     .pattern = "/api/v1/tickets/{code}.svg",
     .flags = ROUTE_PUBLIC | ROUTE_REDACT_PATH,
     .fn = ticket_svg},
    {.method = HTTP_GET,
     .pattern = "/api/v1/tickets/{code}.png",
     .flags = ROUTE_PUBLIC | ROUTE_REDACT_PATH,
     .fn = ticket_png},
    {.method = HTTP_GET,
     .pattern = "/api/v1/tickets/{code}",
     .flags = ROUTE_PUBLIC | ROUTE_REDACT_PATH,
     .fn = ticket_info},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/tickets/{code}",
     .flags = ROUTE_PUBLIC | ROUTE_REDACT_PATH,
     .fn = ticket_cancel},
    {.method = HTTP_POST,
     .pattern = "/api/v1/tickets/{code}/sms",
     .flags = ROUTE_PUBLIC | ROUTE_REDACT_PATH | ROUTE_JSON,
     .body_max = 64,
     .fn = ticket_sms},
    {0},
};
