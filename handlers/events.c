/*
 * Events: the public list the kiosk shows, creating and cancelling events
 * (managers), and the staff views of one event (stats, roster).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mask.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/events.h"
#include "store/signups.h"
#include "store/upgrades.h"

#define EVENTS_LIST_MAX 200
#define ROSTER_MAX 2000

static const char *event_state(const struct store_event *e)
{
    if (strcmp(e->status, "cancelled") == 0)
        return "cancelled";
    return e->confirmed >= e->capacity ? "full" : "open";
}

/* The contract's JSON of one event (new reference); NULL when it cannot be
 * built: out of memory, or a stored text that is damaged (too long for its
 * field, or not UTF-8, which jansson refuses). */
json_t *event_json(const struct store_event *e)
{
    if (e->damaged)
        return NULL;
    json_t *doc =
        json_pack("{s:I, s:s, s:s, s:o, s:o, s:s, s:I, s:I, s:I, s:s}", "id", (json_int_t)e->id,
                  "title", e->title, "kind", e->kind, "starts_at", json_time(e->starts_at),
                  "ends_at", json_time(e->ends_at), "venue", e->venue, "capacity",
                  (json_int_t)e->capacity, "signed_up", (json_int_t)e->confirmed, "waitlisted",
                  (json_int_t)e->waitlisted, "status", event_state(e));
    if (doc && e->description[0] &&
        json_object_set_new(doc, "description", json_string(e->description)) != 0) {
        json_decref(doc);
        return NULL;
    }
    /* another branch's event of this one's area (pulled from HQ): listed, marked */
    if (doc && e->branch[0] && json_object_set_new(doc, "branch", json_string(e->branch)) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Appends the JSON of evs[0..n) to arr; an event whose JSON cannot be built is
 * left out with a log line, so one damaged row does not take the kiosk's list
 * down with it. Returns false when arr itself could not grow. */
static bool events_append(json_t *arr, const struct store_event *evs, size_t n, int64_t now,
                          bool with_over)
{
    for (size_t i = 0; i < n; i++) {
        if (with_over && evs[i].branch[0])
            continue; /* the staff's list: this branch's events only */
        json_t *e = event_json(&evs[i]);
        if (!e) {
            log_error("event_unreadable", "event_id=%lld reason=%s", (long long)evs[i].id,
                      evs[i].damaged ? "text_too_long" : "not_utf8_or_no_memory");
            continue;
        }
        if (with_over)
            json_object_set_new(e, "over", json_boolean(now >= evs[i].ends_at));
        if (json_array_append_new(arr, e) != 0)
            return false;
    }
    return true;
}

/* Marks the cached event list stale. */
void events_changed(struct kioskd *k)
{
    k->events_cache.valid = false;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* GET /api/v1/events: served from a cache rebuilt on change or after 1 s. */
static void events_list(struct req *r)
{
    struct events_cache *c = &r->k->events_cache;
    int64_t now = mono_us();
    if (!c->valid || now - c->built_us > 1000000) {
        struct store_event *evs;
        size_t n;
        int rc = store_events_upcoming(r->k->store, now_s(), EVENTS_LIST_MAX, &evs, &n);
        if (rc) {
            req_fail(r, rc);
            return;
        }
        json_t *arr = json_array();
        if (arr && !events_append(arr, evs, n, 0, false)) {
            json_decref(arr);
            arr = NULL;
        }
        free(evs);
        json_t *doc = arr ? json_pack("{s:o}", "events", arr) : NULL;
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!text) {
            req_fail(r, KIOSKD_ENOMEM);
            return;
        }
        free(c->json);
        c->json = text;
        c->len = strlen(text);
        c->built_us = now;
        c->valid = true;
    }
    req_reply(r, 200, "application/json", c->json, c->len);
}

/* GET /api/v1/staff/events (staff): the last 30 days and what is to come,
 * finished and cancelled events included (for the dashboard). */
static void events_recent(struct req *r)
{
    struct store_event *evs;
    size_t n;
    int64_t now = now_s();
    int rc = store_events_since(r->k->store, now - 30 * 86400, EVENTS_LIST_MAX, &evs, &n);
    if (rc) {
        req_fail(r, rc);
        return;
    }
    json_t *arr = json_array();
    if (arr && !events_append(arr, evs, n, now, true)) {
        json_decref(arr);
        arr = NULL;
    }
    free(evs);
    req_json(r, 200, arr ? json_pack("{s:o}", "events", arr) : NULL);
}

int event_fields(struct kioskd *k, struct jv *v, struct store_event *e)
{
    memset(e, 0, sizeof *e);
    text_field(v, "title", true, EVENT_TITLE_MAX, e->title, sizeof e->title);
    text_field(v, "venue", true, EVENT_VENUE_MAX, e->venue, sizeof e->venue);
    text_field(v, "description", false, EVENT_DESCRIPTION_MAX, e->description,
               sizeof e->description);
    const char *kind = jv_str(v, "kind", false, 1, 16);
    if (!kind)
        kind = "upgrade";
    if (strcmp(kind, "upgrade") && strcmp(kind, "salon") && strcmp(kind, "community"))
        jv_fail(v, "kind", "must be upgrade, salon or community");
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    const char *starts = jv_str(v, "starts_at", true, 1, 40);
    const char *ends = jv_str(v, "ends_at", true, 1, 40);
    if (starts && time_parse_rfc3339(starts, &e->starts_at) != 0)
        jv_fail(v, "starts_at", "must be an RFC 3339 time such as 2026-12-01T14:00:00+08:00");
    if (ends && time_parse_rfc3339(ends, &e->ends_at) != 0)
        jv_fail(v, "ends_at", "must be an RFC 3339 time such as 2026-12-01T14:40:00+08:00");
    else if (starts && ends && e->starts_at && e->ends_at <= e->starts_at)
        jv_fail(v, "ends_at", "must be after starts_at");
    bool upgrade = strcmp(e->kind, "upgrade") == 0;
    json_t *cap = json_object_get(v->root, "capacity");
    if (cap && !json_is_null(cap)) {
        if (jv_int(v, "capacity", true, 1, INT32_MAX, &e->capacity) && upgrade &&
            e->capacity > k->cfg.events_upgrade_max)
            jv_fail(v, "capacity", "an upgrade meeting takes at most [events] upgrade_max guests");
    } else if (upgrade) {
        e->capacity = k->cfg.events_upgrade_capacity;
    } else {
        jv_fail(v, "capacity", "is required");
    }
    return jv_ok(v) ? 0 : KIOSKD_EINVAL;
}

/* POST /api/v1/events (manager, admin): one event, as a one-step write. */
struct create_ctx {
    struct write_ctx w;
    struct store_events_create job;
    struct store_event ev;
};

static int create_fill(struct req *r, struct write_ctx *w)
{
    struct create_ctx *c = (struct create_ctx *)w;
    if (event_fields(r->k, &r->json, &c->ev) != 0)
        return KIOSKD_EINVAL;
    store_events_create_init(&c->job);
    c->job.evs = &c->ev;
    c->job.n = 1;
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static void create_effects(struct write_ctx *w)
{
    events_changed(w->k);
}

static json_t *create_reply(struct write_ctx *w, int *status)
{
    *status = 201;
    return event_json(&((struct create_ctx *)w)->ev);
}

static const struct route_write event_create = {
    .ctx_size = sizeof(struct create_ctx),
    .fill = create_fill,
    .effects = create_effects,
    .reply = create_reply,
};

/* POST /api/v1/events/{id}/cancel (manager, admin) */
struct cancel_ctx {
    struct write_ctx w;
    struct store_event_cancel job;
};

static int cancel_fill(struct req *r, struct write_ctx *w)
{
    struct cancel_ctx *c = (struct cancel_ctx *)w;
    store_event_cancel_init(&c->job);
    c->job.event_id = req_id(r, "id");
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static void cancel_effects(struct write_ctx *w)
{
    struct cancel_ctx *c = (struct cancel_ctx *)w;
    if (c->job.already)
        return;
    events_changed(w->k);
    live_publish(w->k, c->job.event_id, json_pack("{s:s}", "type", "event_cancelled"));
}

static json_t *cancel_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct cancel_ctx *c = (struct cancel_ctx *)w;
    return json_pack("{s:I, s:s}", "id", (json_int_t)c->job.event_id, "status", "cancelled");
}

static const struct route_write event_cancel = {
    .ctx_size = sizeof(struct cancel_ctx),
    .fill = cancel_fill,
    .effects = cancel_effects,
    .reply = cancel_reply,
};

/* GET /api/v1/events/{id} */
static void event_get(struct req *r)
{
    struct store_event e;
    if (!event_of_path(r, &e))
        return;
    json_t *doc = event_json(&e);
    if (!doc) {
        log_error("event_unreadable", "event_id=%lld reason=%s", (long long)e.id,
                  e.damaged ? "text_too_long" : "not_utf8_or_no_memory");
        req_error(r, 500, "event_unreadable", "this event's stored text is damaged", NULL);
        return;
    }
    req_json(r, 200, doc);
}

/* GET /api/v1/events/{id}/stats (staff) */
static void event_stats(struct req *r)
{
    struct store_event e;
    if (!event_of_path(r, &e))
        return;
    /* guests who held a place and did not come, once the event is over */
    int64_t arrived = e.checked_in - e.walk_ins;
    int64_t no_shows = now_s() > e.ends_at && e.confirmed > arrived ? e.confirmed - arrived : 0;
    int64_t registered = 0, approved = 0;
    int rc = store_event_upgrades(r->k->store, e.id, &registered, &approved);
    if (rc) {
        req_fail(r, rc);
        return;
    }
    json_t *doc =
        json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "event_id",
                  (json_int_t)e.id, "status", event_state(&e), "capacity", (json_int_t)e.capacity,
                  "signed_up", (json_int_t)e.confirmed, "waitlisted", (json_int_t)e.waitlisted,
                  "checked_in", (json_int_t)e.checked_in, "walk_ins", (json_int_t)e.walk_ins,
                  "no_shows", (json_int_t)no_shows, "upgrades_registered", (json_int_t)registered,
                  "upgrades_approved", (json_int_t)approved, "over", now_s() > e.ends_at);
    rc = doc ? stats_add_sources(r->k, e.id, doc) : KIOSKD_ENOMEM;
    if (rc) {
        json_decref(doc);
        req_fail(r, rc);
        return;
    }
    req_json(r, 200, doc);
}

/* GET /api/v1/events/{id}/roster?q= (staff): masked guests; q is a name
 * fragment or the last 4 digits of a phone. A one-step write: the read is
 * answered once its audit line is queued ([store] read_audit). */
struct roster_ctx {
    struct audited_read a;
};

/* The roster of event id as JSON (new reference), filtered by query. */
static json_t *roster_json(struct kioskd *k, int64_t id, const char *query, bool by_digits, int *rc)
{
    struct store_roster_row *rows;
    size_t n;
    *rc = store_roster(k->store, id, by_digits ? query : NULL, ROSTER_MAX, &rows, &n);
    if (*rc)
        return NULL;
    json_t *guests = json_array();
    for (size_t i = 0; i < n && guests; i++) {
        struct store_roster_row *row = &rows[i];
        if (query && !by_digits) {
            char name[200];
            size_t len;
            if (pii_open(&k->pii, "name", row->name_enc, row->name_enc_len, name, sizeof name,
                         &len) != 0 ||
                !strstr(name, query)) {
                mbedtls_platform_zeroize(name, sizeof name);
                continue;
            }
            mbedtls_platform_zeroize(name, sizeof name);
        }
        char phone[24];
        roster_phone_masked(k, row, phone, sizeof phone);
        json_t *g =
            json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}", "signup_id", (json_int_t)row->signup_id,
                      "name", row->name_mask, "phone", phone, "status", row->status, "source",
                      row->source, "checked_in", row->checkin_id != 0);
        if (g && row->checkin_id) {
            json_object_set_new(g, "checkin_id", json_integer(row->checkin_id));
            json_object_set_new(g, "checked_in_at", json_time_us(row->checkin_us));
        }
        json_array_append_new(guests, g);
    }
    free(rows);
    json_t *doc =
        guests ? json_pack("{s:I, s:o}", "event_id", (json_int_t)id, "guests", guests) : NULL;
    if (!doc)
        *rc = KIOSKD_ENOMEM;
    return doc;
}

static int roster_fill(struct req *r, struct write_ctx *w)
{
    struct audited_read *c = (struct audited_read *)w;
    struct store_event e;
    if (!event_of_path(r, &e))
        return KIOSKD_ENOTFOUND;
    char q[200];
    bool too_long;
    const char *query = req_query_fit(r, "q", q, sizeof q, &too_long);
    if (too_long) {
        req_error(r, 422, "invalid_query", "q is a name (up to 32 characters) or 4 digits",
                  json_pack("{s:s}", "q", "is too long"));
        return KIOSKD_EINVAL;
    }
    if (query && !*query)
        query = NULL;
    bool by_digits = query && strlen(query) == 4 && strspn(query, "0123456789") == 4;
    if (query && !by_digits && (utf8_count(query) == SIZE_MAX || utf8_count(query) > 32)) {
        req_error(r, 422, "invalid_query", "q is a name (up to 32 characters) or 4 digits", NULL);
        return KIOSKD_EINVAL;
    }
    int rc;
    c->doc = roster_json(r->k, e.id, query, by_digits, &rc);
    if (!c->doc)
        return rc;
    audited_read_audit(c, r, query ? "roster_search" : "roster_view", "event", e.id);
    return 0;
}

static const struct route_write event_roster = {
    .ctx_size = sizeof(struct roster_ctx),
    .fill = roster_fill,
    .reply = audited_read_reply,
    .release = audited_read_release,
    .audits_read = true,
};

const struct route events_routes[] = {
    {.method = HTTP_GET, .pattern = "/api/v1/events", .flags = ROUTE_PUBLIC, .fn = events_list},
    {.method = HTTP_POST,
     .pattern = "/api/v1/events",
     .role = ROLE_MANAGER,
     .flags = ROUTE_BODY,
     .write = &event_create},
    {.method = HTTP_GET,
     .pattern = "/api/v1/events/{id}",
     .flags = ROUTE_PUBLIC,
     .ids = {WHY_EVENT_NOT_FOUND},
     .fn = event_get},
    {.method = HTTP_POST,
     .pattern = "/api/v1/events/{id}/cancel",
     .role = ROLE_MANAGER,
     .flags = ROUTE_JSON,
     .ids = {WHY_EVENT_NOT_FOUND},
     .write = &event_cancel},
    {.method = HTTP_GET,
     .pattern = "/api/v1/events/{id}/stats",
     .role = ROLE_STAFF,
     .ids = {WHY_EVENT_NOT_FOUND},
     .fn = event_stats},
    {.method = HTTP_GET,
     .pattern = "/api/v1/events/{id}/roster",
     .role = ROLE_STAFF,
     .ids = {WHY_EVENT_NOT_FOUND},
     .write = &event_roster},
    {.method = HTTP_GET,
     .pattern = "/api/v1/staff/events",
     .role = ROLE_STAFF,
     .fn = events_recent},
    {0},
};
