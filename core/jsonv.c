/* JSON request-body reading with per-field errors. */
#include "core/jsonv.h"

#include <mbedtls/platform_util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static _Thread_local bool jv_short; /* a jansson allocation failed on this thread */

static void *jv_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        jv_short = true;
    return p;
}

void jv_setup(void)
{
    json_set_alloc_funcs(jv_malloc, free);
}

bool jv_short_of_memory(void)
{
    bool was = jv_short;
    jv_short = false;
    return was;
}

int jv_parse(struct jv *v, const char *body, size_t len)
{
    json_error_t err;
    v->root = NULL;
    v->fields = NULL;
    v->error[0] = '\0';
    if (len == 0) {
        snprintf(v->error, sizeof v->error, "the request body is empty; a JSON object is expected");
        return KIOSKD_EMALFORMED;
    }
    jv_short_of_memory();
    v->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!v->root && (jv_short_of_memory() || json_error_code(&err) == json_error_out_of_memory))
        return KIOSKD_ENOMEM;
    if (!v->root) {
        snprintf(v->error, sizeof v->error,
                 "the request body is not valid JSON (line %d, column %d)", err.line, err.column);
        return KIOSKD_EMALFORMED;
    }
    if (!json_is_object(v->root)) {
        snprintf(v->error, sizeof v->error, "the request body must be a JSON object");
        return KIOSKD_EMALFORMED;
    }
    return 0;
}

void jv_free(struct jv *v)
{
    json_decref(v->root);
    json_decref(v->fields);
    v->root = NULL;
    v->fields = NULL;
}

/* Zeroes every string inside j (objects and arrays walked, depth bounded). */
static void wipe_value(json_t *j, int depth)
{
    if (depth > 32)
        return;
    if (json_is_string(j)) {
        char *s = (char *)json_string_value(j); /* jansson's own copy, about to be freed */
        mbedtls_platform_zeroize(s, json_string_length(j));
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it))
            wipe_value(json_object_iter_value(it), depth + 1);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            wipe_value(json_array_get(j, i), depth + 1);
    }
}

void jv_wipe(struct jv *v)
{
    if (v->root)
        wipe_value(v->root, 0);
}

void jv_fail(struct jv *v, const char *key, const char *message)
{
    if (!v->fields)
        v->fields = json_object();
    if (!v->fields)
        return;
    if (!json_object_get(v->fields, key))
        json_object_set_new(v->fields, key, json_string(message));
}

bool jv_ok(const struct jv *v)
{
    return v->fields == NULL || json_object_size(v->fields) == 0;
}

static json_t *jv_get(struct jv *v, const char *key, bool required)
{
    json_t *x = v->root ? json_object_get(v->root, key) : NULL;
    if (x && json_is_null(x))
        x = NULL;
    if (!x && required)
        jv_fail(v, key, "is required");
    return x;
}

const char *jv_str(struct jv *v, const char *key, bool required, size_t min_len, size_t max_len)
{
    json_t *x = jv_get(v, key, required);
    if (!x)
        return NULL;
    if (!json_is_string(x)) {
        jv_fail(v, key, "must be a string");
        return NULL;
    }
    size_t n = json_string_length(x);
    const char *s = json_string_value(x);
    if (n < min_len) {
        jv_fail(v, key, min_len == 1 ? "must not be empty" : "is too short");
        return NULL;
    }
    if (n > max_len) {
        jv_fail(v, key, "is too long");
        return NULL;
    }
    return s;
}

bool jv_int(struct jv *v, const char *key, bool required, int64_t min, int64_t max, int64_t *out)
{
    json_t *x = jv_get(v, key, required);
    if (!x)
        return false;
    if (!json_is_integer(x)) {
        jv_fail(v, key, "must be an integer");
        return false;
    }
    json_int_t n = json_integer_value(x);
    if (n < min || n > max) {
        jv_fail(v, key, "is out of range");
        return false;
    }
    *out = (int64_t)n;
    return true;
}

bool jv_bool(struct jv *v, const char *key, bool required, bool *out)
{
    json_t *x = jv_get(v, key, required);
    if (!x)
        return false;
    if (!json_is_boolean(x)) {
        jv_fail(v, key, "must be true or false");
        return false;
    }
    *out = json_is_true(x);
    return true;
}
