/*
 * Sending messages, on the loop: the scheduler's timer (a store job derives
 * what is due from events, sign-ups and members), the sender's timer (a
 * store job claims due messages under the sending rules), rendering them
 * with their template, and handing each to its channel: the SMS gateway, the
 * WeCom robot or WeChat's template messages through the net thread, or the
 * log. Every attempt's end is written back by a store job. See
 * docs/messages.md for the rules and store/messages.h for the queue.
 *
 * The loop never waits here: store jobs, worker work (a ticket's signature
 * for its link) and transfers all come back as completions.
 */
#ifndef KIOSKD_DAEMON_MESSAGES_H
#define KIOSKD_DAEMON_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

struct kioskd;

/* Loads and checks the templates (before the server starts): 0, or
 * KIOSKD_E* with "FILE:LINE:COLUMN: message" in err. */
int messages_load(struct kioskd *k, char *err, size_t errlen);
/* A template pulled from HQ (KIND.CHANNEL.mustache, stored): replaces the
 * one in use for messages rendered from now on, checked as at start; on an
 * error (in err) the one in use stays. Nothing to do where messages were not
 * loaded (kioskd sync --once: the daemon takes it at its next start). */
int messages_template_pulled(struct kioskd *k, const char *name, const char *text, size_t len,
                             char *err, size_t errlen);
/* True when messages are on ([messages] channel is not off): they then need
 * the net thread. */
bool messages_on(const struct kioskd *k);
/* Starts the timers (the first scheduler run queues again what a crash left
 * sending) on the daemon's net thread (k->net, started by main when
 * messages_on). Needs the lws context. 0 or an error. */
int messages_start(struct kioskd *k, char *err, size_t errlen);
/* Something changed that may make messages due (a sign-up): runs the
 * scheduler soon. */
void messages_poke(struct kioskd *k);
/* A sign-up was committed: queues its confirmation and reminders soon,
 * looking at the sign-ups taken since the last run only (the full run every
 * [messages] interval sweeps them all, at a cost that grows with them). */
void messages_signed_up(struct kioskd *k);
/* True when chat replies can go later as WeChat customer-service messages
 * (messages started, [wechat] appid and secret set). */
bool messages_chat_replies_on(const struct kioskd *k);
/* A message was queued to go at once (a chat reply): claims soon. */
void messages_send_soon(struct kioskd *k);
/* Cancels the timers. The caller then stops the net thread and runs its
 * completions (transfers in flight are cancelled and their messages queued
 * again), so that their store jobs commit before the writer stops. Accepts a
 * daemon that never started them. */
void messages_stop(struct kioskd *k);
/* Attempts in flight (claimed, not yet settled): at SIGTERM the loop waits a
 * little for them, so a message the far side answered at once is recorded as
 * sent rather than released and sent again after the restart. */
int messages_in_flight(const struct kioskd *k);
/* Frees the templates. */
void messages_free(struct kioskd *k);
/* True when the kiosk may offer to send a ticket link by SMS: messages to
 * people go by SMS ([sms] url) and [bot] public_url makes the link whole. */
bool messages_sms_on(const struct kioskd *k);
/* The channel name for messages to people ("sms", "log"), or NULL when off. */
const char *messages_person_channel(const struct kioskd *k);

#endif
