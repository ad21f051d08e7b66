/* Staff lookups of a member's points: by number, or by phone (a phone never
 * travels in a URL). Audited reads: answered once the audit line is queued
 * for the writer, or once it commits ([store] read_audit). */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <string.h>

#include "core/points.h"
#include "core/status.h"
#include "core/validate.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/ledger.h"
#include "store/members.h"

/* The answer for m: the tier as shown today (with its trial mark), the
 * balances, what expires this year and the last lines of the ledger. */
static json_t *points_json(struct kioskd *k, const struct store_member_view *m, int *rc)
{
    char today[11], tier[96];
    today_china(today);
    struct store_points_view pv;
    if ((*rc = store_points_view(k->store, m->id, today, &pv)) != 0)
        return NULL;
    points_tier_shown(m->tier, m->trial_tier, m->trial_until, today, tier, sizeof tier);
    json_t *lines = json_array();
    for (int i = 0; lines && i < pv.nlines; i++) {
        const struct store_points_line *l = &pv.lines[i];
        json_t *jl =
            json_pack("{s:I, s:s, s:o, s:s}", "delta", (json_int_t)l->delta, "reason", l->reason,
                      "at", json_time_us(l->at_us), "expires_on", l->expires_on);
        if (jl && l->note[0] && json_object_set_new(jl, "note", json_string(l->note)) != 0) {
            json_decref(jl);
            jl = NULL;
        }
        if (json_array_append_new(lines, jl) != 0) {
            json_decref(lines);
            lines = NULL;
        }
    }
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "member_no", m->member_no, "name", m->name_mask,
                  "tier", tier, "balance", (json_int_t)m->balance, "expiring_this_year",
                  (json_int_t)pv.expiring_this_year, "ledger", lines);
    if (doc && m->household[0] &&
        json_object_set_new(doc, "household_balance", json_integer(m->household_balance)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    *rc = doc ? 0 : KIOSKD_ENOMEM;
    return doc;
}

/* Builds the answer for m and its audit line (subject member:NO). */
static int points_answer(struct req *r, struct audited_read *c, int rc,
                         const struct store_member_view *m, const char *action)
{
    if (rc == KIOSKD_ENOTFOUND) {
        req_refuse(r, WHY_MEMBER_NOT_FOUND);
        return KIOSKD_ENOTFOUND;
    }
    if (rc) {
        req_fail(r, rc);
        return rc;
    }
    c->doc = points_json(r->k, m, &rc);
    if (!c->doc) {
        req_fail(r, rc);
        return rc;
    }
    audit_job_fill(&c->job, r, action, "member", m->id);
    snprintf(c->job.subject, sizeof c->job.subject, "member:%s", m->member_no);
    c->w.job = &c->job.job;
    return 0;
}

/* GET /api/v1/members/{member_no}/points (staff) */
static int points_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct store_member_view m;
    const char *no = req_param(r, "member_no");
    int rc = no && strlen(no) <= MEMBER_NO_MAX ? store_member_by_no(r->k->store, no, &m)
                                               : KIOSKD_ENOTFOUND;
    return points_answer(r, c, rc, &m, "member_points_view");
}

/* POST /api/v1/members/lookup {"phone"} (staff) */
static int lookup_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct jv *v = &r->json;
    const char *phone = jv_str(v, "phone", true, 1, 64);
    if (phone && !validate_mobile(phone)) {
        jv_fail(v, "phone", "must be an 11-digit mainland mobile number");
        phone = NULL;
    }
    if (!phone)
        return KIOSKD_EINVAL;
    unsigned char hash[32];
    phone_hash(r->k, phone, hash);
    struct store_member_view m;
    int rc = store_member_by_phone(r->k->store, hash, &m);
    mbedtls_platform_zeroize(hash, sizeof hash);
    return points_answer(r, c, rc, &m, "member_lookup");
}

static const struct route_write member_points = {
    .ctx_size = sizeof(struct audited_read),
    .fill = points_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

static const struct route_write member_lookup = {
    .ctx_size = sizeof(struct audited_read),
    .fill = lookup_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

const struct route members_routes[] = {
    {.method = HTTP_GET,
     .pattern = "/api/v1/members/{member_no}/points",
     .role = ROLE_STAFF,
     .write = &member_points},
    {.method = HTTP_POST,
     .pattern = "/api/v1/members/lookup",
     .role = ROLE_STAFF,
     .flags = ROUTE_BODY | ROUTE_SECRET,
     .body_max = 1024,
     .write = &member_lookup},
    {0},
};
