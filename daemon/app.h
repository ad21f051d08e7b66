/*
 * Opening and closing what the daemon and the command-line tools share: the
 * store, the random source, the personal-data key and the ticket key (and,
 * for the daemon, the worker threads).
 */
#ifndef KIOSKD_APP_H
#define KIOSKD_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/kioskd.h"

/* k->cfg must be loaded. daemon: lock the database, start the writer and
 * the workers (server_wake as their notification). A tool opens the store
 * shared and starts only the writer. Returns 0 or a KIOSKD_E* code with a
 * message in err; app_close undoes either way. */
int app_open(struct kioskd *k, bool daemon, char *err, size_t errlen);
/* Stops the writer and workers after they finish what is queued, and runs
 * the completions of what they finished (before the HTTP server goes). */
void app_stop(struct kioskd *k);
/* Stops (if needed) and frees everything app_open made. */
void app_close(struct kioskd *k);

/* For `serve --demo`, before the store opens: the default paths under
 * ./var/demo/, messages on the log channel, no HQ sync, no robot, and the
 * demo's bot secret when none is set. */
void demo_configure(struct config *c);
/* Creates the demo data on first start (an empty database); prints the
 * URLs, PINs and the bot's curl line. Returns 0 or a KIOSKD_E* code. */
int demo_prepare(struct kioskd *k, const char *scheme);

#endif
