/* Route matching. */
#include "daemon/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int router_init(struct router *rt, const struct route *const *tables)
{
    size_t n = 0;
    for (size_t t = 0; tables[t]; t++)
        for (const struct route *r = tables[t]; r->pattern; r++)
            n++;
    rt->routes = calloc(n ? n : 1, sizeof *rt->routes);
    if (!rt->routes)
        return KIOSKD_ENOMEM;
    rt->n = 0;
    for (size_t t = 0; tables[t]; t++)
        for (const struct route *r = tables[t]; r->pattern; r++)
            rt->routes[rt->n++] = r;
    return 0;
}

void router_free(struct router *rt)
{
    free(rt->routes);
    rt->routes = NULL;
    rt->n = 0;
}

/* Matches one path segment [s, s+slen) against pattern segment [p, p+plen). */
static int seg_match(const char *p, size_t plen, const char *s, size_t slen,
                     struct route_params *out)
{
    const char *open = memchr(p, '{', plen);
    if (!open)
        return plen == slen && memcmp(p, s, slen) == 0;
    const char *close = memchr(open, '}', plen - (size_t)(open - p));
    if (!close)
        return 0;
    size_t pre = (size_t)(open - p);
    size_t suf = plen - (size_t)(close - p) - 1;
    if (slen <= pre + suf)
        return 0;
    if (memcmp(p, s, pre) != 0 || memcmp(close + 1, s + slen - suf, suf) != 0)
        return 0;
    size_t vlen = slen - pre - suf;
    size_t nlen = (size_t)(close - open) - 1;
    if (out->n >= ROUTE_MAX_PARAMS || vlen >= ROUTE_PARAM_MAX || nlen >= sizeof out->name[0])
        return 0;
    memcpy(out->name[out->n], open + 1, nlen);
    out->name[out->n][nlen] = '\0';
    memcpy(out->value[out->n], s + pre, vlen);
    out->value[out->n][vlen] = '\0';
    out->n++;
    return 1;
}

static int path_match(const char *pattern, const char *path, struct route_params *out)
{
    out->n = 0;
    const char *p = pattern, *s = path;
    for (;;) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (!seg_match(p, plen, s, slen, out))
            return 0;
        p += plen;
        s += slen;
        if (!*p && !*s)
            return 1;
        if (!*p || !*s)
            return 0;
    }
}

int router_match(const struct router *rt, int method, const char *path, struct route_params *params,
                 int *allowed)
{
    int found = -1;
    *allowed = 0;
    struct route_params scratch;
    for (size_t i = 0; i < rt->n; i++) {
        const struct route *r = rt->routes[i];
        if (!path_match(r->pattern, path, &scratch))
            continue;
        if (r->method == method) {
            *params = scratch;
            return (int)i;
        }
        *allowed |= r->method;
        found = -2;
    }
    return found;
}

const char *route_param(const struct route_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->name[i], name) == 0)
            return p->value[i];
    return NULL;
}

const char *http_method_name(int method)
{
    switch (method) {
    case HTTP_GET:
        return "GET";
    case HTTP_POST:
        return "POST";
    case HTTP_PUT:
        return "PUT";
    case HTTP_PATCH:
        return "PATCH";
    case HTTP_DELETE:
        return "DELETE";
    case HTTP_HEAD:
        return "HEAD";
    case HTTP_OPTIONS:
        return "OPTIONS";
    }
    return "?";
}
