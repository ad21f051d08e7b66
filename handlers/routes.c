/* The list of every handler file's route table. */
#include "handlers/handlers.h"

#include <stddef.h>

const struct route *const route_tables[] = {
    health_routes,  events_routes,   signups_routes,   checkins_routes,
    staff_routes,   web_routes,      stats_routes,     waitlist_routes,
    members_routes, points_routes,   upgrades_routes,  bot_routes,
    wechat_routes,  messages_routes, campaigns_routes, NULL,
};
