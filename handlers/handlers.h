/*
 * The route tables of every handler file, each a NULL-pattern-terminated
 * array of rows. daemon/ builds its router from route_tables.
 */
#ifndef KIOSKD_HANDLERS_H
#define KIOSKD_HANDLERS_H

#include "daemon/router.h"

#include <jansson.h>

#include "daemon/kioskd.h"
#include "store/events.h"

struct jv;

extern const struct route health_routes[];
extern const struct route events_routes[];
extern const struct route signups_routes[];
extern const struct route checkins_routes[];
extern const struct route staff_routes[];
extern const struct route web_routes[];
extern const struct route stats_routes[];
extern const struct route waitlist_routes[];
extern const struct route members_routes[];
extern const struct route points_routes[];
extern const struct route bot_routes[];
extern const struct route bot_hq_routes[];
extern const struct route wechat_routes[];
extern const struct route upgrades_routes[];
extern const struct route messages_routes[];
extern const struct route campaigns_routes[];

/* handlers/campaigns.c: the audience builds' own read connection and key
 * context (a worker builds an audience, never the loop); 0 or a KIOSKD_E*
 * code with err set. campaigns_free accepts a daemon never started. */
int campaigns_start(struct kioskd *k, char *err, size_t errlen);
void campaigns_free(struct kioskd *k);

/* handlers/events.c, for the other handlers and the command line */
json_t *event_json(const struct store_event *e);
void events_changed(struct kioskd *k);
/* Reads and checks the event fields of v into e (field errors into v); 0 or KIOSKD_EINVAL. */
int event_fields(struct kioskd *k, struct jv *v, struct store_event *e);

/* handlers/stats.c: adds "by_source" (sign-ups by where they came from) to
 * the stats answer doc of event_id; 0 or a KIOSKD_E* code. */
int stats_add_sources(struct kioskd *k, int64_t event_id, json_t *doc);

/* Every table, NULL terminated. */
extern const struct route *const route_tables[];
/* The tables of `kioskd hq` (handlers/hq.c), NULL terminated. */
extern const struct route *const hq_route_tables[];

#endif
