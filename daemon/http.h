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
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/jsonv.h"
#include "daemon/kioskd.h"
#include "daemon/router.h"
#include "store/staff.h"

struct lws;
struct req;

/* Links a request to the work it waits for; embed one in the work's struct. */
struct req_wait {
    struct req *req;  /* NULL once the client has gone (the loop's) */
    atomic_bool gone; /* set with req = NULL; read by worker threads */
};

/*
 * A request's life. Each state is entered in one place:
 *
 *   NEW ----> BODY ----> HANDLER ----> ANSWERED ----> WRITTEN
 *    |          |           |             ^
 *    |          +-----------|-------------+ (early_error: refused before the handler)
 *    +----------------------|-------------+
 *                           v             |
 *                        WAITING <--> RESUMED
 *
 *   NEW       on_http: the headers are checked (route, rate limit, token)
 *   BODY      on_http: the body follows                       (server.c)
 *   HANDLER   dispatch: the route's handler or write runs     (server.c)
 *   WAITING   req_defer: waits for store or worker work       (http.c)
 *   RESUMED   req_resume: the work is done, the client is still there
 *   ANSWERED  req_answered: the answer is built, not written  (http.c)
 *   WRITTEN   req_write: written in one lws_write             (server.c)
 *
 * Invariants (req_check):
 *  1. wait != NULL exactly while WAITING.
 *  2. An answer (out, status) exists only from ANSWERED on.
 *  3. counted_unwritten only while ANSWERED: the drain waits for it.
 * An answer built while RESUMED is written at once (server_answer_deferred);
 * one built in any earlier state is written by the caller that built it.
 */
enum req_state {
    REQ_NEW = 0,
    REQ_BODY,
    REQ_HANDLER,
    REQ_WAITING,
    REQ_RESUMED,
    REQ_ANSWERED,
    REQ_WRITTEN,
};

struct req {
    struct kioskd *k;
    enum req_state state;
    struct lws *wsi;
    int route; /* index in k->router, or -1 */
    const struct route *rt;
    int method;
    char path[256];
    struct route_params params;
    int64_t ids[ROUTE_MAX_PARAMS]; /* the parameters the route declares as ids, parsed */
    struct jv json;                /* the body, for ROUTE_BODY routes (owned; freed with r) */
    char peer[48];
    uint64_t id;
    double t0;              /* monotonic seconds */
    int64_t content_length; /* -1 when absent */
    struct buf body;
    struct store_session session; /* the staff member, for routes with a role */
    enum role role;

    /* the answer */
    int status;
    const char *ctype;
    char *out;
    size_t out_len;
    int retry_after;   /* seconds; 0: no header */
    const char *cache; /* Cache-Control value; NULL: no-store */
    struct {
        const char *name, *value; /* static strings, name with its ':' */
    } hdr[6];
    int nhdr;
    int allow; /* methods for a 405's Allow header */
    bool close_after;
    bool head;              /* a HEAD request: answered as its GET, without the body */
    bool counted_unwritten; /* counted in k->unwritten until written or dropped */
    struct req_wait *wait;
};

/* The request body as received (NUL terminated), and its length. */
static inline const char *req_body(const struct req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}
/* Moves r to state to; the transition and the invariants are asserted. */
void req_enter(struct req *r, enum req_state to);
/* Returns true when r's invariants hold (see above). */
bool req_check(const struct req *r);
/* Returns true when from -> to is a transition of the diagram above. */
bool req_transition_ok(enum req_state from, enum req_state to);

/* Returns the path parameter name, or NULL. */
const char *req_param(const struct req *r, const char *name);
/* One query fragment (len bytes, "name=value" or "name", as lws decoded it)
 * against name: 1 when it is name's (value copied into buf, n bytes with the
 * NUL, or *too_long set when it does not fit), 0 when it is another's. buf
 * may be frag itself. */
int query_arg(const char *frag, size_t len, const char *name, char *buf, size_t n, bool *too_long);
/* Copies query argument name (URL-decoded) into buf; returns buf or NULL when absent. */
const char *req_query(struct req *r, const char *name, char *buf, size_t n);
/* The same; *too_long is set when the argument is there but does not fit n. */
const char *req_query_fit(struct req *r, const char *name, char *buf, size_t n, bool *too_long);

/* Answers with body (copied). */
void req_reply(struct req *r, int status, const char *ctype, const char *body, size_t len);
/* Answers with body, taking ownership of the malloc'd buffer. */
void req_reply_take(struct req *r, int status, const char *ctype, char *body, size_t len);
/* Answers with doc as JSON; takes the reference to doc. A doc that is NULL (out
 * of memory) or could not be serialised for want of memory answers 503 with
 * req_busy_fallback; one jansson refuses otherwise, 500 with req_error_fallback. */
void req_json(struct req *r, int status, json_t *doc);
/* The contract's error body for a 500 whose answer could not be built: sent
 * whenever an answer of 500 or more (but 503) has no body. */
extern const char req_error_fallback[];
/* The same for a 503: the daemon is short of memory. */
extern const char req_busy_fallback[];
/* Answers {"error":{"code","message","fields"?}}; takes the reference to fields (may be NULL). */
void req_error(struct req *r, int status, const char *code, const char *message, json_t *fields);
/* Answers for a KIOSKD_E* status with the generic status, code and message. */
void req_fail(struct req *r, int kioskd_status);

/* Answers a refusal from the one table (daemon/refusal.c). */
void req_refuse(struct req *r, enum store_why why);
/* The same, with details (an object, taken; may be NULL) whose members are
 * added to the error object beside "code" and "message" (which they never
 * replace): {"error":{"code","message","event":{...}}}. The status and code
 * are the table's, details or not. */
void req_refuse_with(struct req *r, enum store_why why, json_t *details);
/* Answers a failed store job: its refusal when it was refused, else req_fail. */
void req_job_failed(struct req *r, const struct store_job *job);
/* The message for why (a static string, or formatted into buf). */
const char *refusal_message(const struct kioskd *k, enum store_why why, char *buf, size_t n);
/* The HTTP status for why. */
int refusal_status(enum store_why why);
/* Answers 422 with the field errors of v; returns true when there were any. */
bool req_fields_failed(struct req *r, struct jv *v);

/* The id parameter name of r's route (declared in the route's ids), or 0. */
int64_t req_id(const struct req *r, const char *name);
/* Parses a positive decimal id (at most 18 digits); -1 when it is not one. */
int64_t parse_id(const char *s);

/*
 * A one-step write described as data (struct route's write). Most changes are
 * one store job: the dispatcher allocates ctx_size zeroed bytes, which start
 * with a struct write_ctx, and calls fill, which validates the request (field
 * errors into r->json give 422), initialises the job inside the context and
 * points w->job at it. The job is submitted; after it has committed, effects
 * runs (even when the client has gone: live view, caches, metrics) and then
 * reply builds the answer. A refused job is answered from the refusal table,
 * with the details refused gives (what the job found out, such as the event a
 * ticket is for).
 */
struct write_ctx {
    struct store_job *job;
    struct req_wait wait;
    struct kioskd *k;
    const struct route_write *spec;
};
struct route_write {
    size_t ctx_size;
    /* 0 to submit; KIOSKD_EINVAL: 422 with r->json's fields; another status
     * is answered by req_fail unless fill has answered itself */
    int (*fill)(struct req *r, struct write_ctx *w);
    /* may be NULL: first on the loop when the job is done; true when it took
     * w back (another step before the answer: it resumes or frees w itself) */
    bool (*again)(struct write_ctx *w);
    void (*effects)(struct write_ctx *w);               /* may be NULL; after a commit only */
    json_t *(*reply)(struct write_ctx *w, int *status); /* *status is preset to 200 */
    void (*release)(struct write_ctx *w);               /* may be NULL: frees what fill kept */
    /* may be NULL: for a refused job, details the refusal's answer carries
     * (an object, or NULL for none; see req_refuse_with) */
    json_t *(*refused)(struct write_ctx *w);
    /* the job only records that staff read what fill built: with [store]
     * read_audit = queued the answer goes once the job is queued (a full queue
     * still refuses it), the line commits with the writer's next batch */
    bool audits_read;
};
/* Submits a filled w for r (flows that reach a one-step write after other
 * steps); on failure answers r, frees w and returns non-zero. */
int req_write_submit(struct req *r, struct write_ctx *w);

/* Run by the dispatcher: parses declared ids and the JSON body, then runs the
 * route's fn or write. */
void req_dispatch(struct req *r);
/* Frees what the request holds (the body and its JSON, wiped for ROUTE_SECRET). */
void req_release(struct req *r);

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
/* The same for CPU work on a worker thread; the work is skipped if the client
 * has gone before a worker takes it (its done() still runs). */
int req_submit_work(struct req *r, struct work *work, struct req_wait *w);

/* Role from its name ("staff", "manager", "admin"); ROLE_NONE when unknown. */
enum role role_from_name(const char *name);
/* Checks a bearer token: fills *session and returns 0, or KIOSKD_EAUTH. */
int auth_token(struct kioskd *k, const char *token, size_t len, struct store_session *session);

#ifndef container_of
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

#endif
