/*
 * Campaigns (CONTRACT.md "Campaigns", docs/campaigns.md): a manager creates
 * one for an event with an audience and steps (a dry run only counts the
 * audience), and reads each with its results. The audience's filters the
 * store can apply run there; AUM is sealed, so its filters (aum_min,
 * aum_max, near_next_tier) are applied here to the candidates' opened
 * amounts, on a worker with its own read connection and key context (the
 * loop never reads the whole membership). A campaign that cannot be made is
 * answered 422 invalid_fields with the fields at fault, and nothing is stored.
 */
#include <mbedtls/platform_util.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"
#include "core/pii.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "daemon/keys.h"
#include "daemon/messages.h"
#include "daemon/worker.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/campaigns.h"
#include "store/events.h"
#include "store/store.h"

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
            strcmp(key, "near_next_tier") && strcmp(key, "household"))
            jv_fail(v, "audience",
                    "knows tiers, aum_min, aum_max, sleeping, birthday_month, "
                    "near_next_tier and household only");
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
    if ((x = json_object_get(au, "household")) != NULL) {
        if (json_is_boolean(x))
            f->household = json_is_true(x) ? CAMPAIGN_HOUSEHOLD_IN : CAMPAIGN_HOUSEHOLD_NONE;
        else if (json_is_string(x) && json_string_length(x) >= 1 &&
                 json_string_length(x) < sizeof f->household_id) {
            f->household = CAMPAIGN_HOUSEHOLD_ONE;
            snprintf(f->household_id, sizeof f->household_id, "%s", json_string_value(x));
        } else
            jv_fail(v, "audience.household",
                    "must be true (in a household), false (in none) or a household id "
                    "(1 to 64 characters)");
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

/* The audience builds' own read connection and key context: a worker runs
 * them, one at a time (a key context serves one thread at a time). */
struct campaign_builder {
    pthread_mutex_t mu;
    struct store *rd;
    struct pii pii;
};

int campaigns_start(struct kioskd *k, char *err, size_t errlen)
{
    struct campaign_builder *b = calloc(1, sizeof *b);
    unsigned char master[32];
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    int rc = keyfile_pii_master(k->cfg.store_key_file, &k->rng, master, err, errlen);
    if (rc == 0 && (rc = pii_init(&b->pii, master)) != 0)
        snprintf(err, errlen, "cannot set up the personal-data key for campaigns");
    mbedtls_platform_zeroize(master, sizeof master);
    if (rc == 0 && (rc = store_open_reader(k->store, (int)k->cfg.store_busy_timeout, &b->rd)))
        snprintf(err, errlen, "cannot open a read connection for campaigns: %s",
                 kioskd_strerror(rc));
    if (rc == 0 && pthread_mutex_init(&b->mu, NULL) != 0) {
        snprintf(err, errlen, "cannot set up the campaigns lock");
        rc = KIOSKD_ENOMEM;
    }
    if (rc) {
        store_close(b->rd);
        pii_free(&b->pii);
        free(b);
        return rc;
    }
    k->campaigns = b;
    return 0;
}

void campaigns_free(struct kioskd *k)
{
    struct campaign_builder *b = k->campaigns;
    if (!b)
        return;
    store_close(b->rd);
    pii_free(&b->pii);
    pthread_mutex_destroy(&b->mu);
    free(b);
    k->campaigns = NULL;
}

/* Keeps the candidates whose AUM passes a, in place; their ids into ids. */
static int aum_keep(struct pii *pii, const struct tier_lines *lines, const struct aum_filter *a,
                    struct campaign_candidate *c, size_t n, int64_t *ids, size_t *kept)
{
    bool any = a->min >= 0 || a->max >= 0 || a->near >= 0;
    *kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (any) {
            int64_t fen = 0;
            if (fen_open_with(pii, "aum", c[i].aum_enc, c[i].aum_enc_len, &fen) != 0)
                return KIOSKD_ECRYPTO;
            int64_t line = campaign_next_line(lines, fen);
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

static const struct route_write campaign_create_answer;

/* POST /api/v1/campaigns (manager): the request is read on the loop, the
 * audience built on a worker (up to every member read, their AUM opened),
 * then a dry run is answered and a creation goes to the store. */
struct create_ctx {
    struct write_ctx w;
    struct store_campaign_create job;
    struct work work;
    struct campaign_builder *b;
    struct campaign_filter f;
    struct aum_filter a;
    struct tier_lines lines;
    bool dry;
    int rc;      /* the build's */
    size_t kept; /* the audience's size */
    char *audience;
    int64_t *ids;
};

/* Answers 422 invalid_fields with v's fields; returns KIOSKD_EINVAL. */
static int invalid(struct req *r, struct jv *v)
{
    json_t *fields = v->fields;
    v->fields = NULL;
    req_error(r, 422, "invalid_fields", "the campaign cannot be made as given", fields);
    return KIOSKD_EINVAL;
}

/* On a worker: the candidates through the builder's own connection, kept by AUM. */
static void build_run(struct work *w, struct worker_ctx *ctx)
{
    (void)ctx;
    struct create_ctx *c = container_of(w, struct create_ctx, work);
    struct campaign_builder *b = c->b;
    struct campaign_candidate *cand = NULL;
    size_t n = 0;
    pthread_mutex_lock(&b->mu);
    c->rc = store_campaign_candidates(b->rd, &c->f, &cand, &n);
    if (c->rc == 0 && !c->dry && !(c->ids = malloc((n ? n : 1) * sizeof *c->ids)))
        c->rc = KIOSKD_ENOMEM;
    if (c->rc == 0)
        c->rc = aum_keep(&b->pii, &c->lines, &c->a, cand, n, c->ids, &c->kept);
    pthread_mutex_unlock(&b->mu);
    if (cand)
        mbedtls_platform_zeroize(cand, n * sizeof *cand);
    free(cand);
}

static void create_release(struct write_ctx *w)
{
    struct create_ctx *c = (struct create_ctx *)w;
    free(c->audience);
    free(c->ids);
}

/* On the loop, the audience built: fills the creation's job. */
static int create_job(struct req *r, struct create_ctx *c)
{
    struct store_campaign_create *j = &c->job;
    struct kioskd *k = r->k;
    json_t *au = json_object_get(r->json.root, "audience");
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
    j->nmembers = c->kept;
    store_actor_set(&j->by, r->session.staff_id, r->session.device);
    c->w.job = &j->job;
    return 0;
}

static void built(struct work *w)
{
    struct create_ctx *c = container_of(w, struct create_ctx, work);
    struct req *r = req_resume(&c->w.wait);
    int rc = w->rc ? w->rc : c->rc;
    if (r && rc == 0 && c->dry)
        req_json(r, 200, json_pack("{s:I}", "audience_size", (json_int_t)c->kept));
    else if (r && rc == 0 && (rc = create_job(r, c)) == 0) {
        req_write_submit(r, &c->w); /* answers r and frees c on failure */
        return;
    }
    if (r && rc)
        req_fail(r, rc);
    create_release(&c->w);
    free(c);
}

/* Reads the request into c and submits the build; 0 or a KIOSKD_E* code
 * (r answered when it is KIOSKD_EINVAL). */
static int create_fill(struct req *r, struct create_ctx *c)
{
    struct store_campaign_create *j = &c->job;
    struct kioskd *k = r->k;
    struct jv *v = &r->json;
    store_campaign_create_init(j);
    jv_int(v, "event_id", true, 1, INT64_MAX / 2, &j->event_id);
    text_field(v, "name", true, CAMPAIGN_NAME_MAX, j->name, sizeof j->name);
    audience_fields(k, v, &c->f, &c->a);
    steps_fields(v, j);
    jv_bool(v, "dry_run", false, &c->dry);
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
    if (!k->campaigns)
        return KIOSKD_ESHUTDOWN;
    c->f.event_id = j->event_id;
    c->b = k->campaigns;
    c->lines = (struct tier_lines){.potential = k->cfg.tiers_potential * 100,
                                   .midhigh = k->cfg.tiers_midhigh * 100,
                                   .private_line = k->cfg.tiers_private * 100};
    c->work.run = build_run;
    c->work.done = built;
    c->work.cls = WORK_SLOW; /* never ahead of a check-in */
    return req_submit_work(r, &c->work, &c->w.wait) == 0 ? 0 : KIOSKD_EREFUSED;
}

static void campaign_create(struct req *r)
{
    struct create_ctx *c = req_calloc(r, sizeof *c);
    if (!c)
        return;
    c->w.k = r->k;
    c->w.spec = &campaign_create_answer;
    int rc = create_fill(r, c);
    if (rc == 0)
        return;
    if (rc != KIOSKD_EINVAL && rc != KIOSKD_EREFUSED)
        req_fail(r, rc);
    free(c);
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

static const struct route_write campaign_create_answer = {
    .ctx_size = sizeof(struct create_ctx),
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

/* --- the call list on the tablet --- */

/* GET /api/v1/calls (staff): the campaigns whose call step is due, to pick
 * one on the tablet (no customer in it). */
static void calls_due_list(struct req *r)
{
    struct campaign_calls_due *due = calloc(CAMPAIGNS_LISTED, sizeof *due);
    size_t n = 0;
    json_t *arr = json_array();
    int rc = due && arr ? store_campaigns_calls_due(r->k->store, now_s(), due, CAMPAIGNS_LISTED, &n)
                        : KIOSKD_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (json_array_append_new(
                arr, json_pack("{s:I, s:s, s:I, s:s, s:o}", "id", (json_int_t)due[i].id, "name",
                               due[i].name, "event_id", (json_int_t)due[i].event_id, "event_title",
                               due[i].event_title, "starts_at", json_time(due[i].starts_at))) != 0)
            rc = KIOSKD_ENOMEM;
    }
    free(due);
    if (rc) {
        json_decref(arr);
        req_fail(r, rc);
        return;
    }
    req_json(r, 200, json_pack("{s:o}", "campaigns", arr));
}

struct call_entry {
    const struct campaign_call_row *row;
    int rank;
    int64_t gap; /* fen below the next tier's line; INT64_MAX at the top */
};

static int call_cmp(const void *a, const void *b)
{
    const struct call_entry *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->gap != y->gap)
        return x->gap < y->gap ? -1 : 1;
    return strcmp(x->row->member_no, y->row->member_no);
}

/* GET /api/v1/campaigns/{id}/calls (staff): an audited read of the invitees
 * not signed up, masked, by tier (highest first) and then by how little AUM
 * each lacks for the next tier. */
static int calls_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct kioskd *k = r->k;
    int64_t id = req_id(r, "id");
    struct campaign_call_row *rows;
    size_t n;
    bool due;
    int rc = store_campaign_calls(k->store, id, now_s(), &due, &rows, &n);
    if (rc == KIOSKD_ENOTFOUND) {
        req_refuse(r, WHY_CAMPAIGN_NOT_FOUND);
        return rc;
    }
    if (rc)
        return rc;
    struct tier_lines lines = {.potential = k->cfg.tiers_potential * 100,
                               .midhigh = k->cfg.tiers_midhigh * 100,
                               .private_line = k->cfg.tiers_private * 100};
    struct call_entry *e = calloc(n ? n : 1, sizeof *e);
    for (size_t i = 0; i < n && e && rc == 0; i++) {
        int64_t fen = 0;
        rc = fen_open(k, "aum", rows[i].aum_enc, rows[i].aum_enc_len, &fen);
        int64_t line = campaign_next_line(&lines, fen);
        e[i] = (struct call_entry){&rows[i], campaign_tier_rank(rows[i].tier),
                                   line < 0 ? INT64_MAX : line - fen};
    }
    json_t *arr = e && rc == 0 ? json_array() : NULL;
    if (arr)
        qsort(e, n, sizeof *e, call_cmp);
    for (size_t i = 0; i < n && arr; i++) {
        const struct campaign_call_row *x = e[i].row;
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "member_no", x->member_no, "name",
                              x->name_mask, "phone_last4", x->phone_last4, "tier", x->tier);
        if (o && x->outcome[0])
            json_object_set_new(o, "outcome", json_string(x->outcome));
        if (json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    mbedtls_platform_zeroize(rows, n * sizeof *rows);
    free(rows);
    free(e);
    if (rc)
        return rc;
    c->doc = arr ? json_pack("{s:o, s:b}", "calls", arr, "due", due) : NULL;
    if (!c->doc)
        return KIOSKD_ENOMEM;
    audited_read_audit(c, r, "campaign_calls_view", "campaign", id);
    return 0;
}

static const struct route_write campaign_calls = {
    .ctx_size = sizeof(struct audited_read),
    .fill = calls_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

/* Reads the invitee of the route's {id} and {member_no} into inv; answers r
 * (404, or 409 before the call step) and returns non-zero when there is none. */
static int invitee_of_path(struct req *r, struct campaign_invitee *inv)
{
    const char *no = req_param(r, "member_no");
    bool found = false;
    int rc = no && strlen(no) <= MEMBER_NO_MAX
                 ? store_campaign_invitee(r->k->store, req_id(r, "id"), no, now_s(), &found, inv)
                 : KIOSKD_ENOTFOUND;
    if (rc == KIOSKD_ENOTFOUND)
        req_refuse(r, found ? WHY_NOT_INVITED : WHY_CAMPAIGN_NOT_FOUND);
    else if (rc == 0 && !inv->calls_due) {
        req_refuse(r, WHY_CALLS_NOT_DUE);
        rc = KIOSKD_EREFUSED;
    }
    return rc;
}

/* POST /api/v1/campaigns/{id}/calls/{member_no}/reveal (staff): the full phone
 * number of one invitee, sent once the audit line (who, when, whom; never
 * the number) has committed. */
static int reveal_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct campaign_invitee inv;
    int rc = invitee_of_path(r, &inv);
    if (rc)
        return rc;
    char phone[32];
    size_t len = 0;
    if (pii_open(&r->k->pii, "phone", inv.phone_enc, inv.phone_enc_len, phone, sizeof phone - 1,
                 &len) != 0)
        return KIOSKD_ECRYPTO;
    phone[len] = '\0';
    c->doc = json_pack("{s:s}", "phone", phone);
    mbedtls_platform_zeroize(phone, sizeof phone);
    if (!c->doc)
        return KIOSKD_ENOMEM;
    audit_job_fill(&c->job, r, "campaign_phone_reveal", "campaign", req_id(r, "id"));
    snprintf(c->job.subject, sizeof c->job.subject, "campaign:%lld:m%lld",
             (long long)req_id(r, "id"), (long long)inv.member_id);
    c->w.job = &c->job.job;
    return 0;
}

static const struct route_write campaign_reveal = {
    .ctx_size = sizeof(struct audited_read),
    .fill = reveal_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
};

/* POST /api/v1/campaigns/{id}/calls/{member_no} (staff) {"outcome","note"?} */
struct outcome_ctx {
    struct write_ctx w;
    struct store_campaign_call job;
    struct store_signup_new signup;
    char member_no[MEMBER_NO_MAX + 1];
};

/* Fills who from member_id's sealed name and phone. 0 or a KIOSKD_E* code. */
static int member_as_guest(struct kioskd *k, int64_t member_id, struct store_person *who)
{
    struct store_member_sealed sec;
    char plain[160], name[160], phone[16];
    size_t nlen = 0, plen = 0;
    const char *why = NULL;
    int rc = store_member_sealed(k->store, member_id, &sec);
    if (rc == 0 && (pii_open(&k->pii, "name", sec.name_enc, sec.name_enc_len, plain,
                             sizeof plain - 1, &nlen) != 0 ||
                    pii_open(&k->pii, "phone", sec.phone_enc, sec.phone_enc_len, phone,
                             sizeof phone - 1, &plen) != 0))
        rc = KIOSKD_ECRYPTO;
    if (rc == 0) {
        plain[nlen] = phone[plen] = '\0';
        rc = validate_name(plain, name, sizeof name, &why) != 0 || !validate_mobile(phone)
                 ? KIOSKD_EINVAL
                 : guest_person(k, name, phone, who);
    }
    mbedtls_platform_zeroize(plain, sizeof plain);
    mbedtls_platform_zeroize(name, sizeof name);
    mbedtls_platform_zeroize(phone, sizeof phone);
    return rc;
}

static int outcome_fill(struct req *r, struct write_ctx *w)
{
    static const char *const OUTCOMES[] = {"reached", "no_answer", "declined", "appointment",
                                           "wrong_number"};
    struct outcome_ctx *c = (struct outcome_ctx *)w;
    struct store_campaign_call *j = &c->job;
    struct kioskd *k = r->k;
    struct jv *v = &r->json;
    store_campaign_call_init(j);
    const char *o = jv_str(v, "outcome", true, 1, CAMPAIGN_OUTCOME_MAX - 1);
    size_t i = 0;
    while (o && i < sizeof OUTCOMES / sizeof OUTCOMES[0] && strcmp(o, OUTCOMES[i]) != 0)
        i++;
    if (o && i == sizeof OUTCOMES / sizeof OUTCOMES[0])
        jv_fail(v, "outcome", "must be reached, no_answer, declined, appointment or wrong_number");
    else if (o)
        snprintf(j->outcome, sizeof j->outcome, "%s", o);
    text_field(v, "note", false, 200, j->note, sizeof j->note);
    if (!jv_ok(v))
        return KIOSKD_EINVAL;
    struct campaign_invitee inv;
    int rc = invitee_of_path(r, &inv);
    if (rc)
        return rc;
    j->campaign_id = req_id(r, "id");
    j->member_id = inv.member_id;
    snprintf(c->member_no, sizeof c->member_no, "%s", req_param(r, "member_no"));
    store_actor_set(&j->by, r->session.staff_id, r->session.device);
    if (strcmp(j->outcome, "appointment") == 0) {
        struct store_signup_new *s = &c->signup;
        store_signup_new_init(s);
        if ((rc = member_as_guest(k, inv.member_id, &s->who)) != 0)
            return rc;
        snprintf(s->member_no, sizeof s->member_no, "%s", c->member_no);
        snprintf(s->campaign, sizeof s->campaign, "%s", inv.code);
        snprintf(s->source, sizeof s->source, "call");
        snprintf(s->consent_version, sizeof s->consent_version, "%s", CONSENT_VERSION);
        snprintf(s->kid, sizeof s->kid, "%s", k->kid);
        s->event_id = inv.event_id;
        s->now = now_s();
        j->signup = s;
    }
    w->job = &j->job;
    return 0;
}

static json_t *outcome_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct outcome_ctx *c = (struct outcome_ctx *)w;
    json_t *o = json_pack("{s:s, s:s}", "member_no", c->member_no, "outcome", c->job.outcome);
    if (o && c->job.signup) {
        json_object_set_new(o, "signup_id", json_integer(c->signup.signup_id));
        json_object_set_new(o, "status", json_string(c->signup.status));
    }
    return o;
}

static void outcome_effects(struct write_ctx *w)
{
    struct outcome_ctx *c = (struct outcome_ctx *)w;
    if (c->job.signup && !c->signup.existed) {
        events_changed(w->k);
        messages_signed_up(w->k); /* the booked guest's confirmation */
    }
}

static const struct route_write campaign_outcome = {
    .ctx_size = sizeof(struct outcome_ctx),
    .fill = outcome_fill,
    .effects = outcome_effects,
    .reply = outcome_reply,
};

const struct route campaigns_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/campaigns",
     .role = ROLE_MANAGER,
     .flags = ROUTE_BODY,
     .body_max = 8192,
     .fn = campaign_create},
    {.method = HTTP_GET,
     .pattern = "/api/v1/campaigns",
     .role = ROLE_MANAGER,
     .fn = campaigns_list},
    {.method = HTTP_GET,
     .pattern = "/api/v1/campaigns/{id}",
     .role = ROLE_MANAGER,
     .ids = {WHY_CAMPAIGN_NOT_FOUND},
     .fn = campaign_get},
    {.method = HTTP_GET, .pattern = "/api/v1/calls", .role = ROLE_STAFF, .fn = calls_due_list},
    {.method = HTTP_GET,
     .pattern = "/api/v1/campaigns/{id}/calls",
     .role = ROLE_STAFF,
     .ids = {WHY_CAMPAIGN_NOT_FOUND},
     .write = &campaign_calls},
    {.method = HTTP_POST,
     .pattern = "/api/v1/campaigns/{id}/calls/{member_no}/reveal",
     .role = ROLE_STAFF,
     .ids = {WHY_CAMPAIGN_NOT_FOUND},
     .write = &campaign_reveal},
    {.method = HTTP_POST,
     .pattern = "/api/v1/campaigns/{id}/calls/{member_no}",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY,
     .body_max = 4096,
     .ids = {WHY_CAMPAIGN_NOT_FOUND},
     .write = &campaign_outcome},
    {0},
};
