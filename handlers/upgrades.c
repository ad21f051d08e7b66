/*
 * Upgrade registrations (升级确认单) on the tablet: staff register one for a
 * checked-in guest or a member, a manager approves or rejects it (行长审批),
 * staff record the assets' arrival; the lists (the approvals queue), the
 * products for the form, and the manager's funnel. Amounts are in CNY on the
 * wire (a number or a string, at most 2 decimals) and sealed at rest: the
 * handlers seal and unseal them with the personal-data key, the store keeps
 * the blobs (store/upgrades.h).
 */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/points.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/upgrades.h"

#define UPGRADES_LISTED 200
#define PRODUCTS_LISTED 500
#define FUNNEL_DAYS_MAX 366
#define AMOUNT_FEN_MAX 1000000000000000LL /* 10^13 CNY, as cny_to_fen */

static const char *const TARGET_TIERS[] = {"潜力", "中高端", "财私"};

/* Reads an amount of CNY at key of obj (a JSON number or a string) into fen,
 * which must be positive. Field errors go into v under name. */
static bool amount_field(struct jv *v, json_t *obj, const char *key, const char *name,
                         bool required, int64_t *fen)
{
    json_t *x = json_object_get(obj, key);
    const char *why = NULL;
    char text[48];
    if (!x) {
        if (required)
            jv_fail(v, name, "is required");
        return false;
    }
    if (json_is_string(x)) {
        if (json_string_length(x) >= sizeof text) {
            jv_fail(v, name, "is too long");
            return false;
        }
        snprintf(text, sizeof text, "%s", json_string_value(x));
    } else if (json_is_integer(x)) {
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(x));
    } else if (json_is_real(x)) {
        snprintf(text, sizeof text, "%.15g", json_real_value(x));
    } else {
        jv_fail(v, name, "must be an amount in CNY (a number or a string)");
        return false;
    }
    if (cny_to_fen(text, fen, &why) != 0) {
        jv_fail(v, name, why ? why : "is not an amount");
        return false;
    }
    if (*fen <= 0) {
        jv_fail(v, name, "must be more than 0");
        return false;
    }
    return true;
}

/* "1234.50" from fen into out. */
static json_t *json_cny(int64_t fen)
{
    char s[32];
    snprintf(s, sizeof s, "%lld.%02lld", (long long)(fen / 100), (long long)(fen % 100));
    return json_string(s);
}

static bool target_tier_ok(const char *t)
{
    for (size_t i = 0; i < sizeof TARGET_TIERS / sizeof TARGET_TIERS[0]; i++)
        if (strcmp(t, TARGET_TIERS[i]) == 0)
            return true;
    return false;
}

static bool code_ok(const char *code)
{
    size_t n = strlen(code);
    return n >= 1 && n <= PRODUCT_CODE_MAX &&
           strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static json_t *products_json(const struct upgrade_product *p, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n && a; i++)
        if (json_array_append_new(a, json_pack("{s:s, s:o}", "code", p[i].code, "amount",
                                               json_cny(p[i].amount_fen))) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

/* POST /api/v1/upgrades (staff) */
struct register_ctx {
    struct write_ctx w;
    struct store_upgrade_register job;
    int64_t pledged_fen;
};

/* Reads "products": at most UPGRADE_PRODUCTS_MAX lines {"code","amount"},
 * each product once. */
static void products_fields(struct jv *v, struct store_upgrade_register *j)
{
    json_t *arr = json_object_get(v->root, "products");
    if (!arr)
        return;
    if (!json_is_array(arr) || json_array_size(arr) > UPGRADE_PRODUCTS_MAX) {
        jv_fail(v, "products", "must be a list of at most 16 {\"code\",\"amount\"}");
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *line = json_array_get(arr, i);
        char name[48];
        snprintf(name, sizeof name, "products[%zu]", i);
        json_t *code = json_object_get(line, "code");
        if (!json_is_object(line) || !json_is_string(code) ||
            json_string_length(code) != strlen(json_string_value(code)) ||
            !code_ok(json_string_value(code))) {
            jv_fail(v, name, "needs a product \"code\" (1 to 32 letters, digits, '-' or '_')");
            continue;
        }
        struct upgrade_product *p = &j->products[j->nproducts];
        snprintf(name, sizeof name, "products[%zu].amount", i);
        if (!amount_field(v, line, "amount", name, true, &p->amount_fen))
            continue;
        snprintf(p->code, sizeof p->code, "%s", json_string_value(code));
        for (int k = 0; k < j->nproducts; k++)
            if (strcmp(j->products[k].code, p->code) == 0) {
                snprintf(name, sizeof name, "products[%zu]", i);
                jv_fail(v, name, "names a product given already");
                return;
            }
        j->nproducts++;
    }
}

static int register_fill(struct req *r, struct write_ctx *w)
{
    struct register_ctx *c = (struct register_ctx *)w;
    struct store_upgrade_register *j = &c->job;
    struct jv *v = &r->json;
    store_upgrade_register_init(j);
    bool by_signup = json_object_get(v->root, "signup_id") != NULL;
    if (by_signup) {
        jv_int(v, "signup_id", true, 1, INT64_MAX / 2, &j->signup_id);
        if (json_object_get(v->root, "member_no"))
            jv_fail(v, "member_no", "give signup_id or member_no, not both");
    } else {
        const char *no = jv_str(v, "member_no", false, 1, MEMBER_NO_MAX);
        if (!no && !json_object_get(v->root, "member_no"))
            jv_fail(v, "member_no", "signup_id or member_no is required");
        if (no)
            snprintf(j->member_no, sizeof j->member_no, "%s", no);
    }
    amount_field(v, v->root, "pledged_aum", "pledged_aum", true, &c->pledged_fen);
    const char *tier = jv_str(v, "target_tier", true, 1, 16);
    if (tier && !target_tier_ok(tier))
        jv_fail(v, "target_tier", "must be 潜力, 中高端 or 财私");
    else if (tier)
        snprintf(j->target_tier, sizeof j->target_tier, "%s", tier);
    const char *mode = jv_str(v, "mode", false, 1, 16);
    if (mode && strcmp(mode, "onsite") != 0 && strcmp(mode, "appointment") != 0)
        jv_fail(v, "mode", "must be onsite or appointment");
    snprintf(j->mode, sizeof j->mode, "%s", mode ? mode : "onsite");
    products_fields(v, j);
    if (!jv_ok(v))
        return KIOSKD_EINVAL;
    int rc = fen_seal(r->k, "pledged", c->pledged_fen, j->pledged_enc, sizeof j->pledged_enc,
                      &j->pledged_enc_len);
    if (rc)
        return rc;
    store_actor_set(&j->by, r->session.staff_id, r->session.device);
    w->job = &j->job;
    return 0;
}

static json_t *register_reply(struct write_ctx *w, int *status)
{
    struct register_ctx *c = (struct register_ctx *)w;
    struct store_upgrade_register *j = &c->job;
    char tier[96];
    tier_shown_today(j->tier, j->trial_tier, j->trial_until, tier, sizeof tier);
    *status = 201;
    json_t *doc =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o*, s:s, s:o}", "id", (json_int_t)j->upgrade_id,
                  "status", "registered", "member_no", j->out_member_no, "tier", tier,
                  "target_tier", j->target_tier, "pledged_aum", json_cny(c->pledged_fen),
                  "products", products_json(j->products, j->nproducts), "mode", j->mode,
                  "created_at", json_time_us(j->created_us));
    if (doc && j->signup_id) {
        json_object_set_new(doc, "signup_id", json_integer(j->signup_id));
        json_object_set_new(doc, "event_id", json_integer(j->event_id));
    }
    return doc;
}

static const struct route_write upgrade_register = {
    .ctx_size = sizeof(struct register_ctx),
    .fill = register_fill,
    .reply = register_reply,
};

/* POST /api/v1/upgrades/{id}/approve and /reject (manager) {"reason"} */
struct decide_ctx {
    struct write_ctx w;
    struct store_upgrade_decide job;
};

static int decide_fill(struct req *r, struct write_ctx *w, bool approve)
{
    struct decide_ctx *c = (struct decide_ctx *)w;
    struct store_upgrade_decide *j = &c->job;
    struct jv *v = &r->json;
    store_upgrade_decide_init(j);
    const char *reason = jv_str(v, "reason", !approve, approve ? 0 : 1, UPGRADE_REASON_MAX * 4);
    if (reason) {
        json_t *x = json_object_get(v->root, "reason");
        const char *why =
            validate_text(reason, json_string_length(x), approve ? 0 : 1, UPGRADE_REASON_MAX);
        if (why)
            jv_fail(v, "reason", why);
        else
            snprintf(j->reason, sizeof j->reason, "%s", reason);
    }
    if (!jv_ok(v))
        return KIOSKD_EINVAL;
    j->upgrade_id = req_id(r, "id");
    j->approve = approve;
    points_rules_of(r->k, &j->rules);
    j->trial_days = r->k->cfg.tiers_trial_days;
    store_actor_set(&j->by, r->session.staff_id, r->session.device);
    w->job = &j->job;
    return 0;
}

static int approve_fill(struct req *r, struct write_ctx *w)
{
    return decide_fill(r, w, true);
}

static int reject_fill(struct req *r, struct write_ctx *w)
{
    return decide_fill(r, w, false);
}

static json_t *decide_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct store_upgrade_decide *j = &((struct decide_ctx *)w)->job;
    char tier[96];
    tier_shown_today(j->tier, j->trial_tier, j->trial_until, tier, sizeof tier);
    json_t *doc =
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "id", (json_int_t)j->upgrade_id,
                  "status", j->approve ? "approved" : "rejected", "member_no", j->member_no, "tier",
                  tier, "points", (json_int_t)j->points, "balance", (json_int_t)j->balance,
                  "trial_granted", j->trial_granted, "decided_at", json_time_us(j->decided_us));
    if (doc && j->trial_granted)
        json_object_set_new(doc, "trial_until", json_string(j->trial_until));
    return doc;
}

static const struct route_write upgrade_approve = {
    .ctx_size = sizeof(struct decide_ctx),
    .fill = approve_fill,
    .reply = decide_reply,
};

static const struct route_write upgrade_reject = {
    .ctx_size = sizeof(struct decide_ctx),
    .fill = reject_fill,
    .reply = decide_reply,
};

/* POST /api/v1/upgrades/{id}/arrived (staff) {"aum"} */
struct arrive_ctx {
    struct write_ctx w;
    struct store_upgrade_arrive job;
    int64_t arrived_fen;
};

static int arrive_fill(struct req *r, struct write_ctx *w)
{
    struct arrive_ctx *c = (struct arrive_ctx *)w;
    struct store_upgrade_arrive *j = &c->job;
    struct kioskd *k = r->k;
    struct jv *v = &r->json;
    store_upgrade_arrive_init(j);
    if (!amount_field(v, v->root, "aum", "aum", true, &c->arrived_fen))
        return KIOSKD_EINVAL;
    j->upgrade_id = req_id(r, "id");
    struct store_upgrade_aum u;
    int rc = store_upgrade_aum(k->store, j->upgrade_id, &u);
    if (rc == KIOSKD_ENOTFOUND) {
        req_refuse(r, WHY_UPGRADE_NOT_FOUND);
        return rc;
    }
    if (rc)
        return rc;
    int64_t old_fen = 0;
    if ((rc = fen_open(k, "aum", u.aum_enc, u.aum_enc_len, &old_fen)) != 0)
        return rc;
    if (old_fen > AMOUNT_FEN_MAX - c->arrived_fen) {
        jv_fail(v, "aum", "is too large");
        return KIOSKD_EINVAL;
    }
    int64_t new_fen = old_fen + c->arrived_fen;
    struct tier_lines lines = {.potential = k->cfg.tiers_potential * 100,
                               .midhigh = k->cfg.tiers_midhigh * 100,
                               .private_line = k->cfg.tiers_private * 100};
    snprintf(j->tier, sizeof j->tier, "%s", tier_of(&lines, new_fen));
    memcpy(j->old_aum_enc, u.aum_enc, u.aum_enc_len);
    j->old_aum_enc_len = u.aum_enc_len;
    rc = fen_seal(k, "aum", new_fen, j->aum_enc, sizeof j->aum_enc, &j->aum_enc_len);
    if (rc == 0)
        rc = fen_seal(k, "arrived", c->arrived_fen, j->arrived_enc, sizeof j->arrived_enc,
                      &j->arrived_enc_len);
    old_fen = new_fen = 0;
    if (rc)
        return rc;
    store_actor_set(&j->by, r->session.staff_id, r->session.device);
    w->job = &j->job;
    return 0;
}

static json_t *arrive_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct arrive_ctx *c = (struct arrive_ctx *)w;
    struct store_upgrade_arrive *j = &c->job;
    char tier[96];
    tier_shown_today(j->tier, j->trial_tier, j->trial_until, tier, sizeof tier);
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:b, s:o}", "id", (json_int_t)j->upgrade_id,
                     "status", "approved", "member_no", j->member_no, "tier", tier, "arrived_aum",
                     json_cny(c->arrived_fen), "trial_ended", j->trial_ended, "arrived_at",
                     json_time_us(j->arrived_us));
}

static const struct route_write upgrade_arrive = {
    .ctx_size = sizeof(struct arrive_ctx),
    .fill = arrive_fill,
    .reply = arrive_reply,
};

/* GET /api/v1/upgrades?status=registered|approved|rejected|all (staff): the
 * newest first; an audited read (the people it shows are masked). */
static json_t *upgrade_row_json(struct kioskd *k, const struct store_upgrade_row *u)
{
    char tier[96];
    int64_t pledged = 0, arrived = 0;
    tier_shown_today(u->tier, u->trial_tier, u->trial_until, tier, sizeof tier);
    if (fen_open(k, "pledged", u->pledged_enc, u->pledged_enc_len, &pledged) != 0)
        return NULL;
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o*, s:s, s:s, s:o, s:s}", "id",
                  (json_int_t)u->id, "member_no", u->member_no, "name", u->name_mask, "tier", tier,
                  "target_tier", u->target_tier, "pledged_aum", json_cny(pledged), "products",
                  products_json(u->products, u->nproducts), "mode", u->mode, "status", u->status,
                  "created_at", json_time_us(u->created_us), "created_by", u->created_by);
    if (!o)
        return NULL;
    if (u->event_id)
        json_object_set_new(o, "event_id", json_integer(u->event_id));
    if (u->signup_id)
        json_object_set_new(o, "signup_id", json_integer(u->signup_id));
    if (u->decided_us) {
        json_object_set_new(o, "decided_at", json_time_us(u->decided_us));
        json_object_set_new(o, "decided_by", json_string(u->decided_by));
    }
    if (u->reason[0])
        json_object_set_new(o, "reason", json_string(u->reason));
    if (u->arrived_us) {
        if (fen_open(k, "arrived", u->arrived_enc, u->arrived_enc_len, &arrived) != 0) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "arrived_at", json_time_us(u->arrived_us));
        json_object_set_new(o, "arrived_aum", json_cny(arrived));
    }
    return o;
}

static int list_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    char status[16];
    bool too_long = false;
    const char *s = req_query_fit(r, "status", status, sizeof status, &too_long);
    if (!s)
        s = too_long ? "?" : "registered";
    if (strcmp(s, "registered") && strcmp(s, "approved") && strcmp(s, "rejected") &&
        strcmp(s, "all")) {
        req_error(r, 422, "invalid_query", "status is registered, approved, rejected or all", NULL);
        return KIOSKD_EINVAL;
    }
    struct store_upgrade_row *rows;
    size_t n;
    int rc =
        store_upgrades_list(r->k->store, strcmp(s, "all") ? s : "", UPGRADES_LISTED, &rows, &n);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        json_t *o = upgrade_row_json(r->k, &rows[i]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    mbedtls_platform_zeroize(rows, n * sizeof *rows);
    free(rows);
    c->doc = arr ? json_pack("{s:o}", "upgrades", arr) : NULL;
    if (!c->doc)
        return KIOSKD_ENOMEM;
    audit_job_fill(&c->job, r, "upgrades_view", "upgrades", 0);
    snprintf(c->job.subject, sizeof c->job.subject, "upgrades:%s", s);
    c->w.job = &c->job.job;
    return 0;
}

static const struct route_write upgrades_list = {
    .ctx_size = sizeof(struct audited_read),
    .fill = list_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

/* GET /api/v1/products (staff): the products and their coefficients, for
 * the registration form. */
static void products_list(struct req *r)
{
    struct store_product *p;
    size_t n;
    int rc = store_products_list(r->k->store, PRODUCTS_LISTED, &p, &n);
    if (rc) {
        req_fail(r, rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        char coef[24];
        int len = snprintf(coef, sizeof coef, "%lld.%03lld", (long long)(p[i].coef_milli / 1000),
                           (long long)(p[i].coef_milli % 1000));
        while (len > 0 && coef[len - 1] == '0')
            coef[--len] = '\0';
        if (len > 0 && coef[len - 1] == '.')
            coef[--len] = '\0';
        if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "code", p[i].code, "name",
                                                 p[i].name, "coefficient", coef)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(p);
    req_json(r, 200, arr ? json_pack("{s:o}", "products", arr) : NULL);
}

static json_t *counts_json(const struct store_funnel_counts *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "invited", (json_int_t)c->invited,
                     "signed_up", (json_int_t)c->signed_up, "checked_in", (json_int_t)c->checked_in,
                     "registered", (json_int_t)c->registered, "approved", (json_int_t)c->approved,
                     "arrived", (json_int_t)c->arrived);
}

static void counts_add(struct store_funnel_counts *to, const struct store_funnel_counts *c)
{
    to->invited += c->invited;
    to->signed_up += c->signed_up;
    to->checked_in += c->checked_in;
    to->registered += c->registered;
    to->approved += c->approved;
    to->arrived += c->arrived;
}

/* Adds the counts of c to o (an object taken); NULL when o or the counts are. */
static json_t *with_counts(json_t *o, const struct store_funnel_counts *c)
{
    json_t *cj = counts_json(c);
    if (!o || !cj || json_object_update(o, cj) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(cj);
    return o;
}

/* GET /api/v1/funnel?from=YYYY-MM-DD&to=YYYY-MM-DD (manager) */
static void funnel(struct req *r)
{
    char f[DATE_LEN], t[DATE_LEN];
    int64_t from, to;
    if (!query_date_range(r, 30, FUNNEL_DAYS_MAX, f, t) || !china_date_start(f, &from) ||
        !china_date_start(t, &to))
        return;
    struct store_funnel fu;
    int rc = store_funnel(r->k->store, from, to + 86400, &fu);
    if (rc) {
        store_funnel_free(&fu);
        req_fail(r, rc);
        return;
    }
    json_t *events = json_array(), *months = json_array();
    struct store_funnel_counts total = {0};
    for (size_t i = 0; i < fu.nevents && events; i++) {
        const struct store_funnel_event *e = &fu.events[i];
        json_t *o = with_counts(json_pack("{s:I, s:s, s:o}", "event_id", (json_int_t)e->id, "title",
                                          e->title, "starts_at", json_time(e->starts_at)),
                                &e->c);
        if (!o || json_array_append_new(events, o) != 0) {
            json_decref(events);
            events = NULL;
        }
    }
    for (size_t i = 0; i < fu.nmonths && months; i++) {
        counts_add(&total, &fu.months[i].c);
        json_t *o = with_counts(json_pack("{s:s}", "month", fu.months[i].month), &fu.months[i].c);
        if (!o || json_array_append_new(months, o) != 0) {
            json_decref(months);
            months = NULL;
        }
    }
    store_funnel_free(&fu);
    json_t *doc = NULL;
    if (events && months)
        doc = json_pack("{s:s, s:s, s:O, s:O, s:o}", "from", f, "to", t, "events", events, "months",
                        months, "total", counts_json(&total));
    json_decref(events);
    json_decref(months);
    req_json(r, 200, doc);
}

const struct route upgrades_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/upgrades",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY,
     .body_max = 8192,
     .write = &upgrade_register},
    {.method = HTTP_GET,
     .pattern = "/api/v1/upgrades",
     .role = ROLE_STAFF,
     .write = &upgrades_list},
    {.method = HTTP_POST,
     .pattern = "/api/v1/upgrades/{id}/approve",
     .role = ROLE_MANAGER,
     .flags = ROUTE_BODY,
     .body_max = 4096,
     .ids = {WHY_UPGRADE_NOT_FOUND},
     .write = &upgrade_approve},
    {.method = HTTP_POST,
     .pattern = "/api/v1/upgrades/{id}/reject",
     .role = ROLE_MANAGER,
     .flags = ROUTE_BODY,
     .body_max = 4096,
     .ids = {WHY_UPGRADE_NOT_FOUND},
     .write = &upgrade_reject},
    {.method = HTTP_POST,
     .pattern = "/api/v1/upgrades/{id}/arrived",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY,
     .body_max = 1024,
     .ids = {WHY_UPGRADE_NOT_FOUND},
     .write = &upgrade_arrive},
    {.method = HTTP_GET, .pattern = "/api/v1/products", .role = ROLE_STAFF, .fn = products_list},
    {.method = HTTP_GET, .pattern = "/api/v1/funnel", .role = ROLE_MANAGER, .fn = funnel},
    {0},
};
