/*
 * Campaigns (CONTRACT.md "Campaigns", docs/campaigns.md): a manager creates
 * one for an event with an audience and steps (a dry run only counts the
 * audience), and reads each with its results. The audience's filters the
 * store can apply run there; AUM is sealed, so its filters (aum_min,
 * aum_max, near_next_tier) are applied here to the candidates' opened
 * amounts. A campaign that cannot be made is answered 400 invalid_campaign
 * with the fields at fault, and nothing is stored.
 */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "daemon/messages.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/campaigns.h"
#include "store/events.h"

#define CAMPAIGNS_LISTED 100
#define DAY 86400

static const char *const TIERS[] = {"长尾", "潜力", "中高端", "财私"}; /* bit 1 << index */

/* What the audience asks of the sealed AUM (fen; -1: no bound). */
struct aum_filter {
    int64_t min, max, near;
};

/* Reads a CNY amount (a number or a string, at most 2 decimals) at key of obj
 * into *fen; failures go into v under name. False when absent or bad. */
static bool cny_field(struct jv *v, json_t *obj, const char *key, const char *name, int64_t *fen)
{
    json_t *x = json_object_get(obj, key);
    char text[48];
    const char *why = NULL;
    if (!x)
        return false;
    if (json_is_integer(x))
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(x));
    else if (json_is_real(x))
        snprintf(text, sizeof text, "%.2f", json_real_value(x));
    else if (json_is_string(x) && json_string_length(x) < sizeof text)
        snprintf(text, sizeof text, "%s", json_string_value(x));
    else
        why = "must be an amount in CNY (a number or a string)";
    if (!why && cny_to_fen(text, fen, &why) == 0)
        return true;
    jv_fail(v, name, why ? why : "is not an amount");
    return false;
}

/* Reads "audience" into f and a; unknown members are refused. */
static void audience_fields(struct kioskd *k, struct jv *v, struct campaign_filter *f,
                            struct aum_filter *a)
{
    a->min = a->max = a->near = -1;
    json_t *au = json_object_get(v->root, "audience");
    if (!au)
        return;
    if (!json_is_object(au)) {
        jv_fail(v, "audience", "must be an object");
        return;
    }
    const char *key;
    json_t *x;
    json_object_foreach(au, key, x)
    {
        if (strcmp(key, "tiers") && strcmp(key, "aum_min") && strcmp(key, "aum_max") &&
            strcmp(key, "sleeping") && strcmp(key, "birthday_month") &&
            strcmp(key, "near_next_tier"))
            jv_fail(v, "audience",
                    "knows tiers, aum_min, aum_max, sleeping, birthday_month and "
                    "near_next_tier only");
    }
    if ((x = json_object_get(au, "tiers")) != NULL) {
        size_t i;
        json_t *t;
        if (!json_is_array(x) || json_array_size(x) == 0)
            jv_fail(v, "audience.tiers", "must be a list of tiers");
        json_array_foreach(x, i, t)
        {
            size_t b = 0;
            while (b < 4 && !(json_is_string(t) && strcmp(json_string_value(t), TIERS[b]) == 0))
                b++;
            if (b == 4)
                jv_fail(v, "audience.tiers", "each must be 长尾, 潜力, 中高端 or 财私");
            else
                f->tiers |= 1u << b;
        }
    }
    int64_t fen;
    if (cny_field(v, au, "aum_min", "audience.aum_min", &fen))
        a->min = fen;
    if (cny_field(v, au, "aum_max", "audience.aum_max", &fen))
        a->max = fen;
    if (a->min >= 0 && a->max >= 0 && a->min > a->max)
        jv_fail(v, "audience.aum_max", "is below aum_min");
    if (cny_field(v, au, "near_next_tier", "audience.near_next_tier", &fen)) {
        if (fen <= 0)
            jv_fail(v, "audience.near_next_tier", "must be more than 0");
        a->near = fen;
    }
    if ((x = json_object_get(au, "sleeping")) != NULL) {
        if (!json_is_boolean(x))
            jv_fail(v, "audience.sleeping", "must be true or false");
        else if (json_is_true(x))
            time_format_china_date(now_s() - k->cfg.campaigns_sleeping_days * DAY,
                                   f->sleeping_before, sizeof f->sleeping_before);
    }
    if ((x = json_object_get(au, "birthday_month")) != NULL) {
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 12)
            jv_fail(v, "audience.birthday_month", "must be a month, 1 to 12");
        else
            f->birthday_month = (int)json_integer_value(x);
    }
}

/* Reads "steps" into j (1 to CAMPAIGN_STEPS_MAX). */
static void steps_fields(struct jv *v, struct store_campaign_create *j)
{
    json_t *arr = json_object_get(v->root, "steps");
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > CAMPAIGN_STEPS_MAX) {
        jv_fail(v, "steps", "must be a list of 1 to 8 {\"channel\",\"at\",\"template\"?}");
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        char name[48];
        struct campaign_step *p = &j->steps[j->nsteps];
        json_t *ch = json_object_get(s, "channel"), *at = json_object_get(s, "at"),
               *tpl = json_object_get(s, "template");
        const char *why = NULL;
        snprintf(name, sizeof name, "steps[%zu]", i);
        if (!json_is_object(s)) {
            jv_fail(v, name, "must be {\"channel\",\"at\",\"template\"?}");
            continue;
        }
        const char *c = json_is_string(ch) ? json_string_value(ch) : "";
        if (strcmp(c, "sms") && strcmp(c, "call") && strcmp(c, "wechat")) {
            snprintf(name, sizeof name, "steps[%zu].channel", i);
            jv_fail(v, name, "must be sms, call or wechat");
            continue;
        }
        if (!json_is_string(at) || json_string_length(at) > CAMPAIGN_AT_MAX ||
            campaign_at_parse(json_string_value(at), &p->offset, &why) != 0) {
            snprintf(name, sizeof name, "steps[%zu].at", i);
            jv_fail(v, name, why ? why : "must be a time before the event such as -30d");
            continue;
        }
        bool is_call = strcmp(c, "call") == 0;
        const char *t = json_is_string(tpl) ? json_string_value(tpl) : tpl ? "?" : NULL;
        if (is_call ? t != NULL : t && strcmp(t, "invitation") != 0) {
            snprintf(name, sizeof name, "steps[%zu].template", i);
            jv_fail(v, name, is_call ? "a call has no template" : "must be invitation");
            continue;
        }
        snprintf(p->channel, sizeof p->channel, "%s", c);
        snprintf(p->at, sizeof p->at, "%s", json_string_value(at));
        snprintf(p->template, sizeof p->template, "%s", is_call ? "" : "invitation");
        j->nsteps++;
    }
}

/* Keeps the candidates whose AUM passes a, in place; their ids into ids. */
static int aum_keep(struct kioskd *k, const struct aum_filter *a, struct campaign_candidate *c,
                    size_t n, int64_t *ids, size_t *kept)
{
    struct tier_lines lines = {.potential = k->cfg.tiers_potential * 100,
                               .midhigh = k->cfg.tiers_midhigh * 100,
                               .private_line = k->cfg.tiers_private * 100};
    bool any = a->min >= 0 || a->max >= 0 || a->near >= 0;
    *kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (any) {
            int64_t fen = 0;
            if (fen_open(k, "aum", c[i].aum_enc, c[i].aum_enc_len, &fen) != 0)
                return KIOSKD_ECRYPTO;
            int64_t line = campaign_next_line(&lines, fen);
            bool ok = (a->min < 0 || fen >= a->min) && (a->max < 0 || fen <= a->max) &&
                      (a->near < 0 || (line >= 0 && line - fen <= a->near));
            fen = 0;
            if (!ok)
                continue;
        }
        if (ids)
            ids[*kept] = c[i].id;
        (*kept)++;
    }
    return 0;
}

/* POST /api/v1/campaigns (manager) */
struct create_ctx {
    struct write_ctx w;
    struct store_campaign_create job;
    char *audience;
    int64_t *ids;
};

/* Answers 400 invalid_campaign with v's fields; returns KIOSKD_EINVAL. */
static int invalid(struct req *r, struct jv *v)
{
    json_t *fields = v->fields;
    v->fields = NULL;
    req_error(r, 400, "invalid_campaign", "the campaign cannot be made as given", fields);
    return KIOSKD_EINVAL;
}

static int create_fill(struct req *r, struct write_ctx *w)
{
    struct create_ctx *c = (struct create_ctx *)w;
    struct store_campaign_create *j = &c->job;
    struct kioskd *k = r->k;
    struct jv *v = &r->json;
    struct campaign_filter f = {0};
    struct aum_filter a;
    bool dry = false;
    store_campaign_create_init(j);
    jv_int(v, "event_id", true, 1, INT64_MAX / 2, &j->event_id);
    text_field(v, "name", true, CAMPAIGN_NAME_MAX, j->name, sizeof j->name);
    audience_fields(k, v, &f, &a);
    steps_fields(v, j);
    jv_bool(v, "dry_run", false, &dry);
    if (!jv_ok(v))
        return invalid(r, v);
    struct store_event ev;
    int rc = store_event_get(k->store, j->event_id, &ev);
    if (rc == KIOSKD_ENOTFOUND || (rc == 0 && strcmp(ev.status, "cancelled") == 0)) {
        jv_fail(v, "event_id", rc ? "no such event" : "the event was cancelled");
        return invalid(r, v);
    }
    if (rc)
        return rc;
    f.event_id = j->event_id;
    struct campaign_candidate *cand;
    size_t n, kept;
    if ((rc = store_campaign_candidates(k->store, &f, &cand, &n)) != 0)
        return rc;
    if (!dry && !(c->ids = malloc((n ? n : 1) * sizeof *c->ids))) {
        free(cand);
        return KIOSKD_ENOMEM;
    }
    rc = aum_keep(k, &a, cand, n, c->ids, &kept);
    mbedtls_platform_zeroize(cand, n * sizeof *cand);
    free(cand);
    if (rc)
        return rc;
    if (dry) {
        req_json(r, 200, json_pack("{s:I}", "audience_size", (json_int_t)kept));
        return KIOSKD_EINVAL; /* answered: nothing to store */
    }
    json_t *au = json_object_get(v->root, "audience");
    c->audience = au ? json_dumps(au, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (!c->audience)
        return KIOSKD_ENOMEM;
    unsigned char rnd[CAMPAIGN_CODE_TRIES][CAMPAIGN_CODE_LEN];
    if (rng_bytes(&k->rng, rnd, sizeof rnd) != 0)
        return KIOSKD_ECRYPTO;
    for (int i = 0; i < CAMPAIGN_CODE_TRIES; i++)
        campaign_code_from(rnd[i], j->codes[i]);
    j->audience = c->audience;
    j->member_ids = c->ids;
    j->nmembers = kept;
    store_actor_set(&j->by, r->session.staff_id, r->session.device);
    w->job = &j->job;
    return 0;
}

static json_t *step_json(const char *channel, const char *at, const char *tpl, int64_t run_at)
{
    json_t *o =
        json_pack("{s:s, s:s, s:o}", "channel", channel, "at", at, "run_at", json_time(run_at));
    if (o && tpl[0])
        json_object_set_new(o, "template", json_string(tpl));
    return o;
}

static json_t *create_reply(struct write_ctx *w, int *status)
{
    struct store_campaign_create *j = &((struct create_ctx *)w)->job;
    json_t *steps = json_array();
    for (int i = 0; i < j->nsteps && steps; i++) {
        const struct campaign_step *p = &j->steps[i];
        if (json_array_append_new(steps, step_json(p->channel, p->at, p->template, p->run_at))) {
            json_decref(steps);
            steps = NULL;
        }
    }
    *status = 201;
    return json_pack("{s:I, s:I, s:s, s:s, s:I, s:o*}", "id", (json_int_t)j->id, "event_id",
                     (json_int_t)j->event_id, "name", j->name, "code", j->code, "audience_size",
                     (json_int_t)j->audience_size, "steps", steps);
}

static void create_effects(struct write_ctx *w)
{
    messages_poke(w->k); /* a step whose time has passed runs at once */
}

static void create_release(struct write_ctx *w)
{
    struct create_ctx *c = (struct create_ctx *)w;
    free(c->audience);
    free(c->ids);
}

static const struct route_write campaign_create = {
    .ctx_size = sizeof(struct create_ctx),
    .fill = create_fill,
    .effects = create_effects,
    .reply = create_reply,
    .release = create_release,
};

/* GET /api/v1/campaigns/{id} and the list (manager) */
static json_t *campaign_json(const struct campaign_view *cv, int64_t now)
{
    json_t *steps = json_array(), *by_step = json_array();
    for (int i = 0; i < cv->nsteps && steps && by_step; i++) {
        const struct campaign_step_view *p = &cv->steps[i];
        const char *status = p->ran_at ? "done" : p->run_at <= now ? "due" : "waiting";
        json_t *o = step_json(p->channel, p->at, p->template, p->run_at);
        if (o) {
            json_object_set_new(o, "status", json_string(status));
            json_object_set_new(o, "reached", json_integer(p->reached));
            json_object_set_new(o, "failed", json_integer(p->failed));
        }
        if (json_array_append_new(steps, o) ||
            json_array_append_new(by_step,
                                  json_pack("{s:s, s:s, s:I}", "channel", p->channel, "at", p->at,
                                            "signed_up", (json_int_t)p->signed_up))) {
            json_decref(steps);
            steps = NULL;
        }
    }
    if (!steps || !by_step) {
        json_decref(steps);
        json_decref(by_step);
        return NULL;
    }
    return json_pack("{s:I, s:I, s:s, s:s, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
                     "id", (json_int_t)cv->id, "event_id", (json_int_t)cv->event_id, "name",
                     cv->name, "code", cv->code, "audience_size", (json_int_t)cv->audience_size,
                     "created_at", json_time(cv->created_at), "steps", steps, "results", "invited",
                     (json_int_t)cv->audience_size, "reached", (json_int_t)cv->reached, "signed_up",
                     (json_int_t)cv->signed_up, "checked_in", (json_int_t)cv->checked_in,
                     "registered", (json_int_t)cv->registered, "approved", (json_int_t)cv->approved,
                     "by_step", by_step);
}

static void campaign_get(struct req *r)
{
    struct campaign_view *cv = malloc(sizeof *cv);
    if (!cv) {
        req_fail(r, KIOSKD_ENOMEM);
        return;
    }
    int rc = store_campaign_get(r->k->store, req_id(r, "id"), cv);
    if (rc == KIOSKD_ENOTFOUND)
        req_refuse(r, WHY_CAMPAIGN_NOT_FOUND);
    else if (rc)
        req_fail(r, rc);
    else
        req_json(r, 200, campaign_json(cv, now_s()));
    free(cv);
}

static void campaigns_list(struct req *r)
{
    int64_t ids[CAMPAIGNS_LISTED];
    size_t n = 0;
    struct campaign_view *cv = malloc(sizeof *cv);
    json_t *arr = json_array();
    int rc = cv && arr ? store_campaign_ids(r->k->store, ids, CAMPAIGNS_LISTED, &n) : KIOSKD_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = store_campaign_get(r->k->store, ids[i], cv)) == 0 &&
            json_array_append_new(arr, campaign_json(cv, now_s())) != 0)
            rc = KIOSKD_ENOMEM;
    }
    free(cv);
    if (rc) {
        json_decref(arr);
        req_fail(r, rc);
        return;
    }
    req_json(r, 200, json_pack("{s:o}", "campaigns", arr));
}

const struct route campaigns_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/campaigns",
     .role = ROLE_MANAGER,
     .flags = ROUTE_BODY,
     .body_max = 8192,
     .write = &campaign_create},
    {.method = HTTP_GET,
     .pattern = "/api/v1/campaigns",
     .role = ROLE_MANAGER,
     .fn = campaigns_list},
    {.method = HTTP_GET,
     .pattern = "/api/v1/campaigns/{id}",
     .role = ROLE_MANAGER,
     .ids = {WHY_CAMPAIGN_NOT_FOUND},
     .fn = campaign_get},
    {0},
};
