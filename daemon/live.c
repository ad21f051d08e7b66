/* Websocket live view for staff tablets. */
#include "daemon/live.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/status.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "handlers/common.h"
#include "store/events.h"

struct live {
    struct live_conn *head;
    int count;
};

struct live_msg {
    struct live_msg *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of room, then the text */
};

int live_count(struct kioskd *k)
{
    return k->live ? k->live->count : 0;
}

static int queue_push(struct live_conn *c, const char *text, size_t len)
{
    if (c->pending + len > LIVE_MAX_PENDING)
        return KIOSKD_EBUSY;
    struct live_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return KIOSKD_ENOMEM;
    memcpy(m->data + LWS_PRE, text, len);
    m->len = len;
    m->next = NULL;
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    c->pending += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static void queue_clear(struct live_conn *c)
{
    while (c->head) {
        struct live_msg *m = c->head;
        c->head = m->next;
        free(m);
    }
    c->tail = NULL;
    c->pending = 0;
}

/* Adds the event's counters to msg and serialises it (caller frees); takes msg. */
static char *event_message(struct kioskd *k, int64_t event_id, json_t *msg)
{
    struct store_event ev;
    if (store_event_get(k->store, event_id, &ev) == 0)
        json_object_set_new(
            msg, "counts",
            json_pack("{s:I, s:I, s:I, s:I, s:I}", "signed_up", (json_int_t)ev.confirmed,
                      "waitlisted", (json_int_t)ev.waitlisted, "checked_in",
                      (json_int_t)ev.checked_in, "walk_ins", (json_int_t)ev.walk_ins, "capacity",
                      (json_int_t)ev.capacity));
    json_object_set_new(msg, "event_id", json_integer(event_id));
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return text;
}

void live_publish(struct kioskd *k, int64_t event_id, json_t *msg)
{
    if (!msg)
        return;
    if (!k->live || !k->live->head) {
        json_decref(msg);
        return;
    }
    char *text = event_message(k, event_id, msg);
    if (!text)
        return;
    size_t len = strlen(text);
    for (struct live_conn *c = k->live->head; c; c = c->next) {
        if (c->event_id != event_id || c->overflowed || c->closing)
            continue;
        if (queue_push(c, text, len) != 0) {
            /* too slow: drop it rather than hold the others back */
            c->overflowed = true;
            log_warn("live_dropped", "event_id=%lld reason=queue_full", (long long)event_id);
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
    }
    free(text);
}

/* Ends a connection whose token is no longer valid: what is queued is
 * dropped, nothing more is queued, and it is closed from its next writable
 * callback (or by lws' timeout if the tablet does not read). */
static void conn_end(struct live_conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    queue_clear(c);
    lws_sul_cancel(&c->expiry);
    log_info("live_closed", "staff_id=%s event_id=%lld reason=%s", c->staff_id,
             (long long)c->event_id, why);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 3);
    lws_callback_on_writable(c->wsi);
}

static void expiry_due(lws_sorted_usec_list_t *sul)
{
    struct live_conn *c = container_of(sul, struct live_conn, expiry);
    if (c->k)
        conn_end(c, "token_expired");
}

void live_close_token(struct kioskd *k, const unsigned char hash[32])
{
    if (!k->live)
        return;
    for (struct live_conn *c = k->live->head; c; c = c->next)
        if (memcmp(c->token_hash, hash, sizeof c->token_hash) == 0)
            conn_end(c, "logout");
}

void live_close_staff(struct kioskd *k, const char *staff_id)
{
    if (!k->live)
        return;
    for (struct live_conn *c = k->live->head; c; c = c->next)
        if (strcmp(c->staff_id, staff_id) == 0)
            conn_end(c, "sessions_revoked");
}

/* Reads event= and the token from the upgrade request; 0 when both are valid.
 * hash (may be NULL): the token's SHA-256. */
static int parse_request(struct lws *wsi, struct kioskd *k, int64_t *event_id,
                         struct store_session *sess, unsigned char *hash)
{
    char uri[64], arg[160], token[160] = "";
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        strcmp(uri, "/api/v1/live") != 0)
        return KIOSKD_ENOTFOUND;
    *event_id = -1;
    for (int i = 0; i < 8; i++) {
        int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (strncmp(arg, "event=", 6) == 0)
            *event_id = parse_id(arg + 6);
        else if (strncmp(arg, "token=", 6) == 0)
            snprintf(token, sizeof token, "%s", arg + 6);
    }
    if (!token[0]) {
        char auth[160];
        int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
        if (n > 7 && strncasecmp(auth, "Bearer ", 7) == 0)
            snprintf(token, sizeof token, "%s", auth + 7);
        mbedtls_platform_zeroize(auth, sizeof auth);
    }
    int rc = *event_id < 0 ? KIOSKD_EINVAL : auth_token(k, token, strlen(token), sess);
    if (rc == 0 && hash && mbedtls_sha256_ret((unsigned char *)token, strlen(token), hash, 0) != 0)
        rc = KIOSKD_ECRYPTO;
    mbedtls_platform_zeroize(arg, sizeof arg); /* our copies of the token */
    mbedtls_platform_zeroize(token, sizeof token);
    if (rc)
        return rc;
    struct store_event ev;
    return store_event_get(k->store, *event_id, &ev);
}

int live_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct live_conn *c = user;
    struct kioskd *k = lws_context_user(lws_get_context(wsi));
    struct store_session sess;
    int64_t event_id;
    (void)in;
    (void)len;

    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        if (!k->live)
            k->live = calloc(1, sizeof *k->live);
        return k->live ? 0 : -1;

    case LWS_CALLBACK_PROTOCOL_DESTROY:
        free(k->live);
        k->live = NULL;
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (k->draining || parse_request(wsi, k, &event_id, &sess, NULL) != 0) {
            log_info("live_refused", "reason=%s",
                     k->draining ? "stopping" : "bad_request_or_token");
            return -1;
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        if (parse_request(wsi, k, &event_id, &sess, c->token_hash) != 0)
            return -1;
        c->wsi = wsi;
        c->k = k;
        c->event_id = event_id;
        {
            int sndbuf = LIVE_SNDBUF;
            setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        }
        snprintf(c->staff_id, sizeof c->staff_id, "%s", sess.staff_id);
        c->expires_at = sess.expires_at;
        {
            /* session_get accepts a token while expires_at > now; never fire early */
            int64_t left = sess.expires_at - now_s();
            lws_sul_schedule(lws_get_context(wsi), 0, &c->expiry, expiry_due,
                             (lws_usec_t)(left > 0 ? left : 0) * LWS_US_PER_SEC);
        }
        c->next = k->live->head;
        if (c->next)
            c->next->prev = c;
        k->live->head = c;
        k->live->count++;
        {
            /* the greeting carries the current counters, to this tablet only */
            char *text = event_message(k, event_id, json_pack("{s:s}", "type", "hello"));
            if (text)
                queue_push(c, text, strlen(text));
            free(text);
        }
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c && c->k && c->closing) {
            static const char why[] = "token no longer valid";
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                             sizeof why - 1);
            return -1;
        }
        if (!c || !c->k || c->overflowed)
            return c && c->overflowed ? -1 : 0;
        if (c->head) {
            struct live_msg *m = c->head;
            int w = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
            c->head = m->next;
            if (!c->head)
                c->tail = NULL;
            c->pending -= m->len;
            free(m);
            if (w < 0)
                return -1;
            if (c->head)
                lws_callback_on_writable(wsi);
        }
        return 0;

    case LWS_CALLBACK_RECEIVE:
        return 0; /* tablets only listen */

    case LWS_CALLBACK_CLOSED:
        if (!c || !c->k)
            return 0;
        queue_clear(c);
        lws_sul_cancel(&c->expiry);
        mbedtls_platform_zeroize(c->token_hash, sizeof c->token_hash);
        if (c->prev)
            c->prev->next = c->next;
        else if (k->live)
            k->live->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        if (k->live)
            k->live->count--;
        c->k = NULL;
        return 0;

    default:
        return 0;
    }
}
