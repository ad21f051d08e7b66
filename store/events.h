/*
 * Events: the upgrade meetings, salons and community events guests sign up
 * for. Reads run on the loop; changes are store jobs (see store/store.h).
 */
#ifndef KIOSKD_STORE_EVENTS_H
#define KIOSKD_STORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Limits of an event's free text, in characters (code points), checked once
 * on input (handlers/events.c); each field holds its limit in 4-byte UTF-8. */
#define EVENT_TITLE_MAX 100
#define EVENT_VENUE_MAX 100
#define EVENT_DESCRIPTION_MAX 500
#define EVENT_TEXT_BUF(chars) ((chars)*4 + 1)

struct store_event {
    int64_t id;
    char title[EVENT_TEXT_BUF(EVENT_TITLE_MAX)];
    char kind[16];     /* upgrade, salon, community */
    int64_t starts_at; /* unix seconds */
    int64_t ends_at;
    char venue[EVENT_TEXT_BUF(EVENT_VENUE_MAX)];
    char description[EVENT_TEXT_BUF(EVENT_DESCRIPTION_MAX)]; /* may be empty */
    int64_t capacity;
    char status[16]; /* open, cancelled */
    int64_t confirmed, waitlisted, checked_in, walk_ins;
    /* "": this branch's event; else the HQ device id of the other branch of
     * its area where it takes place (pulled from HQ; never signed up for or
     * checked in here: WHY_EVENT_ELSEWHERE) */
    char branch[65];
    bool damaged; /* read: a stored text did not fit its field (never cut) */
};

/* Reads event id. Returns 0 or KIOSKD_ENOTFOUND / KIOSKD_EIO. */
int store_event_get(struct store *s, int64_t id, struct store_event *out);
/* Reads up to max events not cancelled that end after now, soonest first, into
 * a new array (caller frees). Returns 0 or a KIOSKD_E* code. */
int store_events_upcoming(struct store *s, int64_t now, size_t max, struct store_event **out,
                          size_t *n);
/* Reads up to max events (cancelled and finished ones too) starting at or
 * after since, soonest first, into a new array (caller frees). */
int store_events_since(struct store *s, int64_t since, size_t max, struct store_event **out,
                       size_t *n);
/* Returns the number of events (for the demo set-up). */
int64_t store_events_count(struct store *s);

/* Creates events (all or none). in: evs[n] (id ignored), staff_id/device for
 * the audit (may be empty for the command line). out: evs[i].id. */
struct store_events_create {
    struct store_job job;
    struct store_event *evs;
    size_t n;
    struct store_actor by;
};
void store_events_create_init(struct store_events_create *j);

/* Cancels an event: sign-ups are refused and its tickets no longer check in.
 * Refusals: WHY_EVENT_NOT_FOUND; out: already (it was cancelled before). */
struct store_event_cancel {
    struct store_job job;
    int64_t event_id;
    struct store_actor by;
    int already;
};
void store_event_cancel_init(struct store_event_cancel *j);

#endif
