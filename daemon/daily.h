/* Daily work on the loop's timer: the points expiry and forgetting old chat
 * deliveries, run at start (catching
 * up on the days the daemon was off) and a minute after each China midnight. */
#ifndef KIOSKD_DAEMON_DAILY_H
#define KIOSKD_DAEMON_DAILY_H

struct kioskd;

/* Submits today's run at once and schedules the next; needs the lws context. */
void daily_start(struct kioskd *k);
/* Cancels the timer (a run in flight still completes through the store). */
void daily_stop(struct kioskd *k);

#endif
