/*
 * kioskd render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR]: renders a
 * Mustache template with core/mustache.c, the engine of the reminders, and
 * prints the result. The files are read here (core does no I/O); partials
 * are read from DIR/NAME.mustache when first used and kept, parsed, for the
 * rest of the render.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/mustache.h"
#include "core/status.h"
#include "daemon/cli.h"

#define RENDER_MAX_DATA (16 * 1024 * 1024)
#define RENDER_MAX_OUTPUT (16 * 1024 * 1024)
#define RENDER_MAX_PARTIALS 256

/* Reads path whole (at most max bytes) into out. Returns 0, or with err set
 * the errno of a failed open, or -1 for any other failure. */
static int read_whole(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e ? e : -1;
    }
    buf_init(out, max);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (rc == 0 && !bad)
        rc = buf_append(out, "", 0); /* data is never NULL */
    if (rc || bad) {
        if (rc == KIOSKD_ETOOBIG)
            snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
        else
            snprintf(err, errlen, "%s: %s", path, bad ? "cannot be read" : "out of memory");
        buf_free(out);
        return -1;
    }
    return 0;
}

struct partials {
    const char *dir; /* NULL without --partials */
    struct mustache_set *set;
    /* which file each parsed partial came from, for render errors */
    const struct mustache *tpl[RENDER_MAX_PARTIALS];
    char *path[RENDER_MAX_PARTIALS];
    size_t n;
    char why[1200]; /* what stopped the render, when a partial did */
};

/* A partial name stays inside DIR: no '/', '\\', '..' or NUL. */
static bool name_ok(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || name[i] == '\\' || name[i] == '\0' ||
            (name[i] == '.' && i + 1 < len && name[i + 1] == '.'))
            return false;
    return true;
}

/* The partial callback: DIR/NAME.mustache, parsed on first use. A missing file
 * renders as nothing (as the spec says) after a warning. */
static int load_partial(void *ctx, const char *name, size_t len, const struct mustache **out)
{
    struct partials *p = ctx;
    if (mustache_set_get(p->set, name, len, out))
        return 0;
    if (!p->dir) {
        fprintf(stderr,
                "kioskd render: warning: partial '%.*s' renders as nothing (no --partials "
                "DIR)\n",
                (int)len, name);
        return mustache_set_put(p->set, name, len, NULL);
    }
    if (!name_ok(name, len)) {
        snprintf(p->why, sizeof p->why, "partial name '%.*s' refused: no '/', '\\' or '..'",
                 (int)(len > 100 ? 100 : len), name);
        return KIOSKD_EINVAL;
    }
    if (p->n == RENDER_MAX_PARTIALS) {
        snprintf(p->why, sizeof p->why, "more than %d partials", RENDER_MAX_PARTIALS);
        return KIOSKD_ETOOBIG;
    }
    size_t plen = strlen(p->dir) + len + 16;
    char *path = malloc(plen);
    if (!path)
        return KIOSKD_ENOMEM;
    snprintf(path, plen, "%s/%.*s.mustache", p->dir, (int)len, name);
    struct buf src;
    char err[1100];
    int rc = read_whole(path, MUSTACHE_MAX_SOURCE, &src, err, sizeof err);
    if (rc != 0) {
        if (rc == ENOENT) {
            fprintf(stderr, "kioskd render: warning: no partial %s (renders as nothing)\n", path);
            free(path);
            return mustache_set_put(p->set, name, len, NULL);
        }
        snprintf(p->why, sizeof p->why, "%s", err);
        free(path);
        return KIOSKD_EIO;
    }
    struct mustache *t = NULL;
    struct mustache_error perr;
    rc = mustache_parse(src.data, src.len, &t, &perr);
    buf_free(&src);
    if (rc) {
        snprintf(p->why, sizeof p->why, "%s:%u:%u: %s", path, perr.line, perr.column, perr.message);
        free(path);
        return rc;
    }
    p->tpl[p->n] = t;
    p->path[p->n++] = path;
    if ((rc = mustache_set_put(p->set, name, len, t)) != 0)
        return rc;
    *out = t;
    return 0;
}

static const char *path_of(const struct partials *p, const struct mustache *t,
                           const char *main_path)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->tpl[i] == t)
            return p->path[i];
    return main_path;
}

int cli_render(struct kioskd *k, int argc, char **argv)
{
    (void)k;
    const char *files[2] = {NULL, NULL}, *dir = NULL;
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--partials") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "kioskd render: unknown argument '%s' (see kioskd render --help)\n",
                    argv[i]);
            return 2;
        } else if (nfiles < 2) {
            files[nfiles++] = argv[i];
        } else {
            nfiles++;
        }
    }
    if (nfiles != 2) {
        fprintf(stderr, "usage: kioskd render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR]\n");
        return 2;
    }
    int status = 1;
    struct buf src, data_src, out;
    struct mustache *t = NULL;
    json_t *data = NULL;
    struct partials p = {.dir = dir};
    char err[1100];
    buf_init(&src, 0);
    buf_init(&data_src, 0);
    buf_init(&out, RENDER_MAX_OUTPUT);
    if (read_whole(files[0], MUSTACHE_MAX_SOURCE, &src, err, sizeof err) != 0 ||
        read_whole(files[1], RENDER_MAX_DATA, &data_src, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd render: %s\n", err);
        goto out;
    }
    struct mustache_error merr;
    if (mustache_parse(src.data, src.len, &t, &merr) != 0) {
        fprintf(stderr, "%s:%u:%u: %s\n", files[0], merr.line, merr.column, merr.message);
        goto out;
    }
    json_error_t jerr;
    data = json_loadb(data_src.data, data_src.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!data) {
        fprintf(stderr, "%s:%d:%d: bad JSON data: %s\n", files[1], jerr.line, jerr.column,
                jerr.text);
        goto out;
    }
    if (!(p.set = mustache_set_new())) {
        fprintf(stderr, "kioskd render: out of memory\n");
        goto out;
    }
    struct mustache_opts opts = {.partial = load_partial, .partial_ctx = &p};
    int rc = mustache_render(t, data, &opts, &out, &merr);
    if (rc) {
        if (p.why[0])
            fprintf(stderr, "kioskd render: %s\n", p.why);
        else if (merr.tpl)
            fprintf(stderr, "%s:%u:%u: %s\n", path_of(&p, merr.tpl, files[0]), merr.line,
                    merr.column, merr.message);
        else
            fprintf(stderr, "kioskd render: %s\n", merr.message);
        goto out;
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "kioskd render: cannot write the output\n");
        goto out;
    }
    status = fflush(stdout) == 0 ? 0 : 1;
out:
    mustache_set_free(p.set);
    for (size_t i = 0; i < p.n; i++)
        free(p.path[i]);
    mustache_free(t);
    json_decref(data);
    buf_free(&src);
    buf_free(&data_src);
    buf_free(&out);
    return status;
}
