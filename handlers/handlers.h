/*
 * The route tables of every handler file, each a NULL-pattern-terminated
 * array of rows. daemon/ builds its router from route_tables.
 */
#ifndef KIOSKD_HANDLERS_H
#define KIOSKD_HANDLERS_H

#include "daemon/router.h"

extern const struct route health_routes[];

/* Every table, NULL terminated. */
extern const struct route *const route_tables[];

#endif
