/*
 * Reads for the manager's summary of an event: where its sign-ups came from.
 * Reads only, on the loop's read connection; the counters themselves are on
 * the events row (store/events.h).
 */
#ifndef KIOSKD_STORE_STATS_H
#define KIOSKD_STORE_STATS_H

#include <stdint.h>

#include "store/store.h"

/* Sign-ups of an event that are not cancelled, by where they came from. A
 * sign-up with a referrer counts as a referral only, whatever its source. */
struct store_sources {
    int64_t kiosk, bot, staff, walkin, referral;
};

/* Fills *out for event_id (all 0 when it has none) with one grouped query;
 * returns 0 or a KIOSKD_E* code. */
int store_signup_sources(struct store *s, int64_t event_id, struct store_sources *out);

#endif
