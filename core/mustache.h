/*
 * Mustache templates (https://mustache.github.io/mustache.5.html): parsed once
 * into an immutable compiled template, then rendered against a jansson value
 * as often as needed, from any number of threads at once. Pure: no I/O;
 * partials come through a callback, so the caller decides where their
 * sources live (files for `kioskd render`, a cache for the reminders).
 *
 * Supported (every case of the spec's comments, delimiters, interpolation,
 * inverted, partials and sections files): {{name}} with HTML escaping of
 * & < > " , {{{name}}} and {{&name}} unescaped, dotted names, the implicit
 * iterator {{.}}, sections over lists, objects and other truthy values,
 * inverted sections, comments, partials with the indentation of a standalone
 * partial tag, set delimiters {{=<% %>=}} and the standalone-line rules.
 *
 * Not supported: lambdas and the optional spec modules (~lambdas,
 * ~dynamic-names, ~inheritance); {{*name}}, {{<name}} and {{$name}} are
 * parse errors.
 *
 * Values: a missing name or null renders as nothing; strings as they are;
 * integers in decimal; reals in the shortest form that reads back the same;
 * true and false as "true" and "false"; objects and arrays as nothing. The
 * falsy values that skip a section (and show an inverted one) are missing
 * names, null, false, 0, 0.0, "" and the empty array, as in mustache.js.
 *
 * Limits: templates of at most MUSTACHE_MAX_SOURCE bytes, sections nested at
 * most MUSTACHE_MAX_NESTING deep in one template, delimiters of at most
 * MUSTACHE_MAX_DELIM bytes; when rendering, sections and partials nested at
 * most opts.max_depth deep together (a partial that includes itself without
 * end stops there with an error), at most opts.max_steps nodes visited, and
 * output up to the ceiling of the struct buf it goes to.
 */
#ifndef KIOSKD_MUSTACHE_H
#define KIOSKD_MUSTACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define MUSTACHE_MAX_SOURCE (1024 * 1024)
#define MUSTACHE_MAX_NESTING 64
#define MUSTACHE_MAX_DELIM 16
#define MUSTACHE_DEFAULT_DEPTH 64
#define MUSTACHE_DEFAULT_STEPS 1000000UL

struct mustache;

/* Where and why parsing or rendering failed. line and column count from 1
 * (column in characters, i.e. UTF-8 code points); both are 0 when the failure
 * has no place (output ceiling, an allocation). */
struct mustache_error {
    unsigned line;
    unsigned column;
    const struct mustache *tpl; /* render errors: the template (or partial) line and
                                   column are in; NULL otherwise */
    char message[160];
};

/* Finds partial name (len bytes, not NUL terminated). Returns 0 with *out set
 * to a compiled template owned by the caller (kept alive for the render), or
 * to NULL when there is no such partial (it renders as nothing); a negative
 * KIOSKD_E* value stops the render with that status. */
typedef int (*mustache_partial_fn)(void *ctx, const char *name, size_t len,
                                   const struct mustache **out);

struct mustache_opts {
    mustache_partial_fn partial; /* NULL: every partial renders as nothing */
    void *partial_ctx;
    unsigned max_depth;      /* 0: MUSTACHE_DEFAULT_DEPTH */
    unsigned long max_steps; /* 0: MUSTACHE_DEFAULT_STEPS */
    bool plain_text;         /* {{name}} as {{{name}}}: the output is text, not HTML */
};

/* Compiles src (len bytes, need not be NUL terminated; a copy is kept).
 * Returns 0 with *out set (free with mustache_free), KIOSKD_EMALFORMED or
 * KIOSKD_ETOOBIG with err filled (when err is not NULL), or KIOSKD_ENOMEM. */
int mustache_parse(const char *src, size_t len, struct mustache **out, struct mustache_error *err);

/* Renders t with data (NULL behaves as null) onto out, whose ceiling bounds
 * the output; opts may be NULL. Returns 0, KIOSKD_ETOOBIG (output ceiling,
 * depth or steps), KIOSKD_ENOMEM, or the status a partial callback returned;
 * on failure err says why and out holds the output so far. */
int mustache_render(const struct mustache *t, const json_t *data, const struct mustache_opts *opts,
                    struct buf *out, struct mustache_error *err);

/* Called for each name a template looks up, with the number of sections
 * around it and the place of its tag (line and column from 1); non-zero stops. */
typedef int (*mustache_name_fn)(void *ctx, const char *name, size_t len, unsigned depth,
                                unsigned line, unsigned column);
/* Visits every name of t that is looked up (variables, sections, inverted
 * sections; not partials, not {{.}}) in source order. Returns 0, or the first
 * non-zero value fn returned. */
int mustache_names(const struct mustache *t, mustache_name_fn fn, void *ctx);

/* Frees a compiled template; NULL is fine. */
void mustache_free(struct mustache *t);

/* A set of compiled templates by name: parse once, render many times. Names
 * are compared byte for byte. Not locked: fill it before sharing it. */
struct mustache_set;

/* Returns a new empty set, or NULL when out of memory; free with mustache_set_free. */
struct mustache_set *mustache_set_new(void);
/* Frees the set and every template in it; NULL is fine. */
void mustache_set_free(struct mustache_set *s);
/* Adds t (NULL records that name has no template) under name (len bytes),
 * taking ownership of t even on failure. Returns 0, KIOSKD_ECONFLICT when the
 * name is already there, or KIOSKD_ENOMEM. */
int mustache_set_put(struct mustache_set *s, const char *name, size_t len, struct mustache *t);
/* Returns 1 with *out set (possibly NULL) when name is in the set, 0 when not. */
int mustache_set_get(const struct mustache_set *s, const char *name, size_t len,
                     const struct mustache **out);
/* A mustache_partial_fn over a set passed as ctx: names not in it render as nothing. */
int mustache_set_partial(void *ctx, const char *name, size_t len, const struct mustache **out);

#endif
