/*
 * Spending points: redemptions by staff (optionally from the household's
 * pool) and transfers between members by a manager. Every decision on the
 * balance is taken by the store's job on the writer thread (store/ledger.c),
 * so tablets spending at once never take a balance below zero.
 */
#include <string.h>

#include "core/status.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/ledger.h"

#define POINTS_MAX 100000000

/* Copies a member number field of v into out, or records why it is wrong. */
static void member_no_field(struct jv *v, const char *key, char out[MEMBER_NO_MAX + 1])
{
    const char *no = jv_str(v, key, true, 1, MEMBER_NO_MAX);
    if (!no)
        return;
    if (strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
        strlen(no)) {
        jv_fail(v, key, "may hold only letters, digits, '-' and '_'");
        return;
    }
    memcpy(out, no, strlen(no) + 1);
}

/* POST /api/v1/points/redemptions {"member_no","points","item","from_household"?} (staff) */
struct redeem_ctx {
    struct write_ctx w;
    struct store_points_redeem job;
};

static int redeem_fill(struct req *r, struct write_ctx *w)
{
    struct redeem_ctx *c = (struct redeem_ctx *)w;
    struct jv *v = &r->json;
    store_points_redeem_init(&c->job);
    member_no_field(v, "member_no", c->job.member_no);
    jv_int(v, "points", true, 1, POINTS_MAX, &c->job.points);
    text_field(v, "item", true, POINTS_TEXT_MAX, c->job.item, sizeof c->job.item);
    jv_bool(v, "from_household", false, &c->job.from_household);
    if (!jv_ok(v))
        return KIOSKD_EINVAL;
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *redeem_reply(struct write_ctx *w, int *status)
{
    struct store_points_redeem *j = &((struct redeem_ctx *)w)->job;
    *status = 201;
    json_t *doc =
        json_pack("{s:I, s:s, s:I, s:s, s:b, s:I}", "id", (json_int_t)j->op_id, "member_no",
                  j->member_no, "points", (json_int_t)j->points, "item", j->item, "from_household",
                  j->from_household, "balance", (json_int_t)j->balance);
    if (doc && j->from_household)
        json_object_set_new(doc, "household_balance", json_integer(j->household_balance));
    return doc;
}

static const struct route_write redeem = {
    .ctx_size = sizeof(struct redeem_ctx),
    .fill = redeem_fill,
    .reply = redeem_reply,
};

/* POST /api/v1/points/transfers {"from","to","points","note"} (manager) */
struct transfer_ctx {
    struct write_ctx w;
    struct store_points_transfer job;
};

static int transfer_fill(struct req *r, struct write_ctx *w)
{
    struct transfer_ctx *c = (struct transfer_ctx *)w;
    struct jv *v = &r->json;
    store_points_transfer_init(&c->job);
    member_no_field(v, "from", c->job.from);
    member_no_field(v, "to", c->job.to);
    jv_int(v, "points", true, 1, POINTS_MAX, &c->job.points);
    text_field(v, "note", false, POINTS_TEXT_MAX, c->job.note, sizeof c->job.note);
    if (jv_ok(v) && strcmp(c->job.from, c->job.to) == 0)
        jv_fail(v, "to", "must be another member than from");
    if (!jv_ok(v))
        return KIOSKD_EINVAL;
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *transfer_reply(struct write_ctx *w, int *status)
{
    struct store_points_transfer *j = &((struct transfer_ctx *)w)->job;
    *status = 201;
    return json_pack("{s:I, s:I, s:{s:s, s:I}, s:{s:s, s:I}}", "id", (json_int_t)j->op_id, "points",
                     (json_int_t)j->points, "from", "member_no", j->from, "balance",
                     (json_int_t)j->from_balance, "to", "member_no", j->to, "balance",
                     (json_int_t)j->to_balance);
}

/* Which member was not found: the answer names the field. */
static json_t *transfer_refused(struct write_ctx *w)
{
    struct store_points_transfer *j = &((struct transfer_ctx *)w)->job;
    if (j->job.why != WHY_MEMBER_NOT_FOUND)
        return NULL;
    return json_pack("{s:s}", "member", j->to_missing ? "to" : "from");
}

static const struct route_write transfer = {
    .ctx_size = sizeof(struct transfer_ctx),
    .fill = transfer_fill,
    .reply = transfer_reply,
    .refused = transfer_refused,
};

const struct route points_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/points/redemptions",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY,
     .body_max = 2048,
     .write = &redeem},
    {.method = HTTP_POST,
     .pattern = "/api/v1/points/transfers",
     .role = ROLE_MANAGER,
     .flags = ROUTE_BODY,
     .body_max = 2048,
     .write = &transfer},
    {0},
};
