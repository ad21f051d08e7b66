/*
 * Routes as rows (method, path pattern, role, body limit, flags, handler),
 * and matching a request path against them. Pure: no lws, no I/O.
 *
 * A pattern is a path of literal segments and parameters; a parameter segment
 * is `prefix{name}suffix` and matches a non-empty value, e.g.
 * "/api/v1/events/{id}/signups" or "/api/v1/tickets/{code}.svg".
 */
#ifndef KIOSKD_ROUTER_H
#define KIOSKD_ROUTER_H

#include <stddef.h>

#include "store/why.h"

struct req;

enum http_method {
    HTTP_GET = 1,
    HTTP_POST = 2,
    HTTP_PUT = 4,
    HTTP_PATCH = 8,
    HTTP_DELETE = 16,
    HTTP_HEAD = 32,
    HTTP_OPTIONS = 64,
};

enum role { ROLE_NONE = 0, ROLE_STAFF = 1, ROLE_MANAGER = 2, ROLE_ADMIN = 3 };

enum route_flags {
    ROUTE_PUBLIC = 1,      /* rate limited per client address */
    ROUTE_JSON = 2,        /* the body, if any, must be application/json */
    ROUTE_REDACT_PATH = 4, /* log the pattern, not the path (parameters are sensitive) */
    ROUTE_UPGRADE = 8,     /* a websocket upgrade; handled by its own protocol */
    ROUTE_BODY = 16,       /* the body is parsed as a JSON object into r->json before the
                              handler runs (400 when it is not one); implies ROUTE_JSON */
    ROUTE_SECRET = 32,     /* the body carries a secret (a PIN): wiped when the request ends */
    ROUTE_ALWAYS = 64,     /* served even while anonymous connections are at their limit */
};

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 160

typedef void (*route_fn)(struct req *r);
struct route_write;

/*
 * One route, written with designated initialisers. Before the handler runs
 * the dispatcher has checked, in this order: the method and path (404/405),
 * the rate limit (ROUTE_PUBLIC, 429), the token and role (401/403), the body's
 * size and type (411/413/415), every path parameter named in ids (404 with
 * its reason when it is not a positive decimal id), and the JSON body
 * (ROUTE_BODY, 400). Then it runs exactly one of:
 *   fn     a flow that needs code (several steps: worker, store, worker);
 *   write  a one-step write described as data (daemon/http.h).
 */
struct route {
    int method; /* one enum http_method */
    const char *pattern;
    enum role role;  /* least role needed; ROLE_NONE: no login */
    unsigned flags;  /* enum route_flags */
    size_t body_max; /* 0: the default (64 KiB) */
    /* ids[i] != WHY_NONE: the pattern's i-th parameter is an id, and a value
     * that is not one is answered as that reason (e.g. WHY_EVENT_NOT_FOUND) */
    enum store_why ids[ROUTE_MAX_PARAMS];
    route_fn fn;
    const struct route_write *write;
};

struct route_params {
    int n;
    char name[ROUTE_MAX_PARAMS][24];
    char value[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX];
};

struct router {
    const struct route **routes; /* flattened; index = metrics index */
    size_t n;
};

/* Builds the router from NULL-terminated tables of rows ending in a zeroed row.
 * Returns 0 or KIOSKD_ENOMEM. */
int router_init(struct router *rt, const struct route *const *tables);
void router_free(struct router *rt);

/* Finds the row for method and path. Returns its index and fills params, or
 * -1 when no pattern matches the path (404), or -2 when patterns match but not
 * the method (405; *allowed gets the methods that would). */
int router_match(const struct router *rt, int method, const char *path, struct route_params *params,
                 int *allowed);
/* Returns the value of parameter name, or NULL. */
const char *route_param(const struct route_params *p, const char *name);
/* The method's name ("GET"), or "?" */
const char *http_method_name(int method);

/* Default and largest request body. */
#define HTTP_BODY_MAX (64 * 1024)

#endif
