#include "daemon/csvrows.h"

#include <errno.h>
#include <mbedtls/platform_util.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "daemon/app.h"
#include "store/store.h"

static void on_field(void *s, size_t len, void *data)
{
    struct csvrows *r = data;
    if (r->nfields <= r->spec->ncols) {
        if (len > r->spec->field_max)
            r->too_long = true;
        else {
            memcpy(r->field[r->nfields], s, len);
            r->field[r->nfields][len] = '\0';
        }
    }
    r->nfields++;
}

static void on_row(int c, void *data)
{
    (void)c;
    ((struct csvrows *)data)->row_ready = true;
}

/* Feeds lines until a row is complete: 1, 0 at the end, or KIOSKD_EINVAL/EIO. */
static int next_raw_row(struct csvrows *r)
{
    r->nfields = 0;
    r->too_long = false;
    r->row_ready = false;
    r->row_line = r->line_no + 1;
    while (!r->row_ready) {
        ssize_t n = getline(&r->line, &r->line_cap, r->f);
        if (n < 0) {
            if (ferror(r->f)) {
                snprintf(r->err, sizeof r->err, "%s: cannot be read", r->path);
                return KIOSKD_EIO;
            }
            if (csv_fini(&r->p, on_field, on_row, r) != 0) {
                snprintf(r->err, sizeof r->err, "%s:%ld: a quoted field is never closed", r->path,
                         r->row_line);
                return KIOSKD_EINVAL;
            }
            return r->row_ready ? 1 : 0;
        }
        r->line_no++;
        if (n > CSVROWS_LINE_MAX) {
            snprintf(r->err, sizeof r->err, "%s:%ld: the line is longer than %d bytes", r->path,
                     r->line_no, CSVROWS_LINE_MAX);
            return KIOSKD_EINVAL;
        }
        if (csv_parse(&r->p, r->line, (size_t)n, on_field, on_row, r) != (size_t)n) {
            snprintf(r->err, sizeof r->err, "%s:%ld: %s", r->path, r->line_no,
                     csv_strerror(csv_error(&r->p)));
            return KIOSKD_EINVAL;
        }
        if (r->nfields == 0 && !r->row_ready)
            r->row_line = r->line_no + 1; /* a blank line: the row starts later */
    }
    return 1;
}

int csvrows_open(struct csvrows *r, const struct csvrows_spec *spec, const char *path)
{
    memset(r, 0, sizeof *r);
    r->spec = spec;
    r->path = path;
    if (spec->ncols > CSVROWS_COLS_MAX || spec->field_max > CSVROWS_FIELD_MAX) {
        snprintf(r->err, sizeof r->err, "%s: too many columns to read", path);
        return KIOSKD_EINVAL;
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        snprintf(r->err, sizeof r->err, "%s: %s", path, strerror(errno));
        return KIOSKD_EIO;
    }
    if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return KIOSKD_ENOMEM;
    }
    r->parser_ready = true;
    int rc = next_raw_row(r);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(r->err, sizeof r->err, "%s:1: the file is empty; a header row is expected",
                     path);
        return rc ? rc : KIOSKD_EINVAL;
    }
    r->header_n = r->nfields;
    if (r->header_n > spec->ncols) {
        snprintf(r->err, sizeof r->err, "%s:%ld: the header has %d columns; at most %d", path,
                 r->row_line, r->header_n, spec->ncols);
        return KIOSKD_EINVAL;
    }
    for (int i = 0; i < spec->ncols; i++) {
        r->col_of[i] = -1;
        for (int j = 0; j < r->nfields; j++)
            if (strcmp(r->field[j], spec->names[i]) == 0)
                r->col_of[i] = j;
        if (r->col_of[i] < 0 && !(spec->optional & (1u << i))) {
            snprintf(r->err, sizeof r->err, "%s:%ld: the header has no column '%s' (expected %s)",
                     path, r->row_line, spec->names[i], spec->expected);
            return KIOSKD_EINVAL;
        }
    }
    return 0;
}

int csvrows_next(struct csvrows *r)
{
    int rc = next_raw_row(r);
    if (rc <= 0)
        return rc;
    if (r->nfields != r->header_n) {
        snprintf(r->err, sizeof r->err, "%s:%ld: expected %d fields as in the header, found %d",
                 r->path, r->row_line, r->header_n, r->nfields);
        return KIOSKD_EINVAL;
    }
    if (r->too_long) {
        char why[64];
        snprintf(why, sizeof why, "a field is longer than %zu bytes", r->spec->field_max);
        return csvrows_fail(r, "row", why);
    }
    return 1;
}

const char *csvrows_col(const struct csvrows *r, int c)
{
    return c < 0 || c >= r->spec->ncols || r->col_of[c] < 0 ? "" : r->field[r->col_of[c]];
}

int csvrows_fail(struct csvrows *r, const char *field, const char *why)
{
    snprintf(r->err, sizeof r->err, "%s:%ld: %s: %s", r->path, r->row_line, field, why);
    return KIOSKD_EINVAL;
}

void csvrows_close(struct csvrows *r)
{
    if (r->parser_ready)
        csv_free(&r->p);
    if (r->f)
        fclose(r->f);
    if (r->line) {
        mbedtls_platform_zeroize(r->line, r->line_cap);
        free(r->line);
    }
    r->parser_ready = false;
    r->f = NULL;
    r->line = NULL;
    mbedtls_platform_zeroize(r->field, sizeof r->field);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int csvrows_import(struct kioskd *k, struct csvrows *r, const struct csvrows_spec *spec,
                   const char *path, const struct csvrows_import *im)
{
    char err[512];
    int64_t t0 = mono_ms();
    int rc = csvrows_open(r, spec, path);
    if (rc == 0) {
        rc = app_open(k, false, err, sizeof err);
        if (rc)
            snprintf(r->err, sizeof r->err, "%s", err);
    }
    if (rc == 0) {
        rc = store_run(k->store, im->job);
        if (rc == KIOSKD_EREFUSED && im->refused)
            im->refused(r, im->job, im->arg);
        else if (rc && !r->err[0])
            snprintf(r->err, sizeof r->err, "%s", kioskd_strerror(rc));
        app_close(k);
    }
    csvrows_close(r);
    if (rc) {
        fprintf(stderr, "kioskd import: %s; nothing was imported\n",
                r->err[0] ? r->err : kioskd_strerror(rc));
        return 1;
    }
    int64_t ms = mono_ms() - t0;
    printf("imported %lld %s (%lld new, %lld updated) in %lld.%03lld s\n",
           (long long)(*im->added + *im->updated), im->what, (long long)*im->added,
           (long long)*im->updated, (long long)(ms / 1000), (long long)(ms % 1000));
    return 0;
}
