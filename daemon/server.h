/*
 * The HTTP server on libwebsockets: one service thread, the default poll
 * loop. Reads requests, routes them, checks size, type and rate, runs the
 * handler, writes answers, and drains work finished by other threads.
 */
#ifndef KIOSKD_SERVER_H
#define KIOSKD_SERVER_H

#include "daemon/kioskd.h"

/* Creates the lws context listening on [http] listen. Returns 0, or
 * KIOSKD_EIO with a message in err. */
int server_start(struct kioskd *k, char *err, size_t errlen);
/* Runs the loop until a stop signal, then drains in-flight requests (up to
 * 2 s) and returns. */
void server_run(struct kioskd *k);
/* Destroys the lws context; accepts a never-started server. */
void server_stop(struct kioskd *k);
struct req;
/* Writes the answer of a deferred request now (loop thread, outside its own
 * callbacks); closes the connection if it cannot be reused. */
void server_answer_deferred(struct req *r);
/* Wakes the loop from another thread (lws_cancel_service). */
void server_wake(void *kioskd);

#endif
