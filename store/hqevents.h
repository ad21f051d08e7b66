/*
 * HQ's table of events (hq_events, HQ migration 0006): one row per event HQ
 * keys (docs/sync.md, "Events at HQ") with its branch, its id there, its
 * title, venue, start, end and whether it was cancelled, so that 活动 at HQ
 * reads the events that have not ended through an index, however many
 * have ended (store/hqbot.c). Storage-thread functions inside a job of
 * store/hq.c or store/hqbot.c, on SQLite and PostgreSQL (store/hqdb.h).
 *
 *  E1. Written where what it reflects is stored: a new event_created entry
 *      (key DEVICE/ID), a new event_linked entry (the branch's id of an
 *      event HQ imported), a new event_cancelled entry, an import of events
 *      (which may cancel one). Each is idempotent.
 *  E2. What HQ stored before the table existed is written once, by the
 *      first read (hqevents_current, hqevents_get), from the entries and
 *      the imports, before it answers; the cursor '*events' of
 *      hq_bot_cursors records that it was done.
 */
#ifndef KIOSKD_STORE_HQEVENTS_H
#define KIOSKD_STORE_HQEVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/hq.h"

struct store_tx;

/* An event as 活动 shows it. */
struct hq_event {
    char key[HQ_EVENT_KEY_MAX + 1];
    char device[HQ_DEVICE_MAX + 1]; /* the branch it takes place at */
    int64_t event_id;               /* its id there; 0: imported, not linked yet */
    char title[404], venue[404];    /* 100 characters of UTF-8 */
    int64_t starts_at, ends_at;     /* unix seconds */
};

/* What a new entry of device brings (E1): kind event_created, event_linked
 * or event_cancelled with its data; other kinds and malformed data change
 * nothing. 0 or a KIOSKD_E* code. */
int hqevents_entry(struct store_tx *tx, const char *device, const char *kind, json_t *data);
/* An event imported at HQ under key (data as `kioskd hq import events`
 * makes it, before sealing). */
int hqevents_imported(struct store_tx *tx, const char *key, json_t *data);

/* The events that end after now and were not cancelled, soonest start first,
 * into out[0..*n) (*n at most max). */
int hqevents_current(struct store_tx *tx, int64_t now, struct hq_event *out, size_t max, size_t *n);
/* The event of key into *out when it ends after now and was not cancelled;
 * *found false otherwise. */
int hqevents_get(struct store_tx *tx, const char *key, int64_t now, struct hq_event *out,
                 bool *found);

#endif
