/* libFuzzer target: the Mustache parser and renderer (core/mustache). The input
 * is a template, rendered against a fixed data object; the partial "self" is
 * the input again (recursion stops at the depth limit) and "item" a fixed one. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/mustache.h"
#include "core/status.h"

static json_t *data;
static struct mustache *item;

struct ctx {
    const struct mustache *self;
};

static int partial(void *ctx, const char *name, size_t len, const struct mustache **out)
{
    const struct ctx *c = ctx;
    *out = NULL;
    if (len == 4 && memcmp(name, "self", 4) == 0)
        *out = c->self;
    else if (len == 4 && memcmp(name, "item", 4) == 0)
        *out = item;
    else if (len == 4 && memcmp(name, "fail", 4) == 0)
        return KIOSKD_EIO;
    return 0;
}

static void setup(void)
{
    data = json_loads("{\"a\":\"x<&>\\\"'\",\"b\":{\"c\":[1,2.5,\"s\",null,true,{\"d\":\"e\"}]},"
                      "\"list\":[{\"n\":1},{\"n\":\"二\"},{\"n\":3}],\"nested\":[[1,2],[3],[]],"
                      "\"empty\":[],\"zero\":0,\"t\":true,\"f\":false,\"cn\":\"中文😀\","
                      "\"obj\":{\"list\":[\"x\"],\"a\":\"inner\"}}",
                      0, NULL);
    const char *src = "{{#list}}\n  <{{n}}|{{a}}>\n{{/list}}{{^empty}}{{cn}}{{/empty}}";
    struct mustache_error err;
    if (!data || mustache_parse(src, strlen(src), &item, &err) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (!data)
        setup();
    struct mustache *t = NULL;
    struct mustache_error err;
    int rc = mustache_parse((const char *)in, size, &t, &err);
    if (rc != 0) {
        if (t || (rc != KIOSKD_EMALFORMED && rc != KIOSKD_ETOOBIG) || !err.message[0] ||
            (rc == KIOSKD_EMALFORMED && (err.line < 1 || err.column < 1)))
            __builtin_trap();
        return 0;
    }
    struct ctx c = {.self = t};
    struct mustache_opts opts = {.partial = partial, .partial_ctx = &c, .max_steps = 20000};
    struct buf out;
    buf_init(&out, 64 * 1024);
    rc = mustache_render(t, data, &opts, &out, &err);
    if (out.len > out.max || (rc != 0 && rc != KIOSKD_ETOOBIG && rc != KIOSKD_EIO))
        __builtin_trap();
    /* parsed once, rendered again: the same bytes */
    if (rc == 0) {
        struct buf again;
        buf_init(&again, 64 * 1024);
        if (mustache_render(t, data, &opts, &again, &err) != 0 || again.len != out.len ||
            (out.len && memcmp(again.data, out.data, out.len) != 0))
            __builtin_trap();
        buf_free(&again);
    }
    buf_free(&out);
    mustache_free(t);
    return 0;
}
