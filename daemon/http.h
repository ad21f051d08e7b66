/*
 * One HTTP request as handlers see it, and the ways to answer it. Every error
 * body has the contract's shape, built in one place (req_error).
 *
 * A handler either answers at once (req_reply / req_json / req_error) or
 * defers: it submits work with a struct req_wait and answers later, from the
 * work's completion on the loop, after req_resume() gives the request back
 * (NULL when the client has gone meanwhile; the work's effects stand).
 */
#ifndef KIOSKD_HTTP_H
#define KIOSKD_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "daemon/kioskd.h"
#include "daemon/router.h"
#include "store/staff.h"

struct lws;
struct req;

/* Links a request to the work it waits for; embed one in the work's struct. */
struct req_wait {
    struct req *req; /* NULL once the client has gone */
};

struct req {
    struct kioskd *k;
    struct lws *wsi;
    int route;               /* index in k->router, or -1 */
    const struct route *rt;
    int method;
    char path[256];
    struct route_params params;
    char peer[48];
    uint64_t id;
    double t0;               /* monotonic seconds */
    int64_t content_length;  /* -1 when absent */
    struct buf body;
    struct store_session session; /* the staff member, for routes with a role */
    enum role role;

    /* the answer */
    int status;
    const char *ctype;
    char *out;
    size_t out_len;
    int retry_after;         /* seconds; 0: no header */
    const char *cache;       /* Cache-Control value; NULL: no-store */
    struct {
        const char *name, *value; /* static strings, name with its ':' */
    } hdr[6];
    int nhdr;
    int allow;               /* methods for a 405's Allow header */
    bool in_handler, replied, written, dispatched, close_after;
    bool counted_unwritten;  /* counted in k->unwritten until written or dropped */
    struct req_wait *wait;
};

/* The request body as received (NUL terminated), and its length. */
static inline const char *req_body(const struct req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}
/* Returns the path parameter name, or NULL. */
const char *req_param(const struct req *r, const char *name);
/* Copies query argument name (URL-decoded) into buf; returns buf or NULL when absent. */
const char *req_query(struct req *r, const char *name, char *buf, size_t n);

/* Answers with body (copied). */
void req_reply(struct req *r, int status, const char *ctype, const char *body, size_t len);
/* Answers with body, taking ownership of the malloc'd buffer. */
void req_reply_take(struct req *r, int status, const char *ctype, char *body, size_t len);
/* Answers with doc as JSON; takes the reference to doc. */
void req_json(struct req *r, int status, json_t *doc);
/* Answers {"error":{"code","message","fields"?}}; takes the reference to fields (may be NULL). */
void req_error(struct req *r, int status, const char *code, const char *message, json_t *fields);
/* Answers for a KIOSKD_E* status with the generic status, code and message. */
void req_fail(struct req *r, int kioskd_status);

/* Adds a response header; name ("x-foo:") and value must be static strings. */
void req_header(struct req *r, const char *name, const char *value);

/* Allocates a zeroed context of n bytes for r's work; on failure answers r
 * and returns NULL. */
void *req_calloc(struct req *r, size_t n);

/* Marks r as waiting for w; the caller answers later after req_resume. */
void req_defer(struct req *r, struct req_wait *w);
/* Returns the request w waited for and unlinks it, or NULL if the client left. */
struct req *req_resume(struct req_wait *w);
/* Submits a store job for r and defers r on w; on a full queue or shutdown
 * answers 503 and returns non-zero (the caller then frees its job). */
int req_submit(struct req *r, struct store_job *job, struct req_wait *w);
struct work;
/* The same for CPU work on a worker thread. */
int req_submit_work(struct req *r, struct work *work, struct req_wait *w);

/* Role from its name ("staff", "manager", "admin"); ROLE_NONE when unknown. */
enum role role_from_name(const char *name);
/* Checks a bearer token: fills *session and returns 0, or KIOSKD_EAUTH. */
int auth_token(struct kioskd *k, const char *token, size_t len, struct store_session *session);

#ifndef container_of
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

#endif
