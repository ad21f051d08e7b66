/*
 * kioskd import products FILE.csv (header code,name,coefficient): streams the
 * file through libcsv one physical line at a time, inside one store job, as
 * the members import does (daemon/import_members.c): a bad row, named by its
 * line and field, rolls the whole import back. Re-importing updates products
 * by code; a changed coefficient applies to new ledger lines only.
 */
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/points.h"
#include "core/status.h"
#include "core/validate.h"
#include "daemon/app.h"
#include "daemon/cli.h"
#include "store/products.h"

#define LINE_MAX_BYTES 65536
#define FIELD_MAX 512

enum col { C_CODE, C_NAME, C_COEF, C_COUNT };
static const char *const col_names[C_COUNT] = {"code", "name", "coefficient"};

struct pimporter {
    const char *path;
    FILE *f;
    struct csv_parser p;
    char *line;
    size_t line_cap;
    long line_no, row_line;
    char field[C_COUNT + 1][FIELD_MAX + 1];
    int nfields, header_n;
    bool too_long, row_ready;
    int col_of[C_COUNT];
    char err[512];
};

static void on_field(void *s, size_t len, void *data)
{
    struct pimporter *im = data;
    if (im->nfields <= C_COUNT) {
        if (len > FIELD_MAX)
            im->too_long = true;
        else {
            memcpy(im->field[im->nfields], s, len);
            im->field[im->nfields][len] = '\0';
        }
    }
    im->nfields++;
}

static void on_row(int c, void *data)
{
    (void)c;
    ((struct pimporter *)data)->row_ready = true;
}

/* Feeds lines until a row is complete: 1, 0 at the end, or KIOSKD_EINVAL/EIO. */
static int next_raw_row(struct pimporter *im)
{
    im->nfields = 0;
    im->too_long = false;
    im->row_ready = false;
    im->row_line = im->line_no + 1;
    while (!im->row_ready) {
        ssize_t n = getline(&im->line, &im->line_cap, im->f);
        if (n < 0) {
            if (ferror(im->f)) {
                snprintf(im->err, sizeof im->err, "%s: cannot be read", im->path);
                return KIOSKD_EIO;
            }
            if (csv_fini(&im->p, on_field, on_row, im) != 0) {
                snprintf(im->err, sizeof im->err, "%s:%ld: a quoted field is never closed",
                         im->path, im->row_line);
                return KIOSKD_EINVAL;
            }
            return im->row_ready ? 1 : 0;
        }
        im->line_no++;
        if (n > LINE_MAX_BYTES) {
            snprintf(im->err, sizeof im->err, "%s:%ld: the line is longer than %d bytes", im->path,
                     im->line_no, LINE_MAX_BYTES);
            return KIOSKD_EINVAL;
        }
        if (csv_parse(&im->p, im->line, (size_t)n, on_field, on_row, im) != (size_t)n) {
            snprintf(im->err, sizeof im->err, "%s:%ld: %s", im->path, im->line_no,
                     csv_strerror(csv_error(&im->p)));
            return KIOSKD_EINVAL;
        }
        if (im->nfields == 0 && !im->row_ready)
            im->row_line = im->line_no + 1; /* a blank line: the row starts later */
    }
    return 1;
}

static int row_fail(struct pimporter *im, const char *field, const char *why)
{
    snprintf(im->err, sizeof im->err, "%s:%ld: %s: %s", im->path, im->row_line, field, why);
    return KIOSKD_EINVAL;
}

static int read_header(struct pimporter *im)
{
    int rc = next_raw_row(im);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(im->err, sizeof im->err, "%s:1: the file is empty; a header row is expected",
                     im->path);
        return rc ? rc : KIOSKD_EINVAL;
    }
    im->header_n = im->nfields;
    if (im->header_n > C_COUNT) {
        snprintf(im->err, sizeof im->err, "%s:%ld: the header has %d columns; expected %d",
                 im->path, im->row_line, im->header_n, C_COUNT);
        return KIOSKD_EINVAL;
    }
    for (int i = 0; i < C_COUNT; i++) {
        im->col_of[i] = -1;
        for (int j = 0; j < im->nfields; j++)
            if (strcmp(im->field[j], col_names[i]) == 0)
                im->col_of[i] = j;
        if (im->col_of[i] < 0) {
            snprintf(im->err, sizeof im->err,
                     "%s:%ld: the header has no column '%s' (expected code,name,coefficient)",
                     im->path, im->row_line, col_names[i]);
            return KIOSKD_EINVAL;
        }
    }
    return 0;
}

/* The writer's row source: the next product, checked. */
static int next_product(void *arg, struct store_product *p)
{
    struct pimporter *im = arg;
    int rc = next_raw_row(im);
    if (rc <= 0)
        return rc;
    memset(p, 0, sizeof *p);
    if (im->nfields != im->header_n) {
        snprintf(im->err, sizeof im->err, "%s:%ld: expected %d fields as in the header, found %d",
                 im->path, im->row_line, im->header_n, im->nfields);
        return KIOSKD_EINVAL;
    }
    if (im->too_long)
        return row_fail(im, "row", "a field is longer than 512 bytes");
    const char *code = im->field[im->col_of[C_CODE]];
    size_t clen = strlen(code);
    if (clen == 0 || clen > PRODUCT_CODE_MAX ||
        strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != clen)
        return row_fail(im, "code", "must be 1 to 32 letters, digits, '-' or '_'");
    const char *name = im->field[im->col_of[C_NAME]];
    const char *why = validate_text(name, strlen(name), 1, PRODUCT_NAME_MAX);
    if (why || strlen(name) >= sizeof p->name)
        return row_fail(im, "name", why ? why : "is too long");
    if (points_parse_coef(im->field[im->col_of[C_COEF]], &p->coef_milli, &why) != 0)
        return row_fail(im, "coefficient", why ? why : "is not a coefficient");
    snprintf(p->code, sizeof p->code, "%s", code);
    snprintf(p->name, sizeof p->name, "%s", name);
    return 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_import_products(struct kioskd *k, const char *path)
{
    struct pimporter *im = calloc(1, sizeof *im);
    char err[512];
    if (!im) {
        fprintf(stderr, "kioskd import: out of memory\n");
        return 1;
    }
    int64_t t0 = mono_ms();
    im->path = path;
    im->f = fopen(path, "rb");
    if (!im->f) {
        fprintf(stderr, "kioskd import: %s: %s\n", path, strerror(errno));
        free(im);
        return 1;
    }
    int rc = csv_init(&im->p, CSV_STRICT | CSV_STRICT_FINI) == 0 ? 0 : KIOSKD_ENOMEM;
    if (rc == 0)
        rc = read_header(im);
    struct store_products_import j;
    store_products_import_init(&j);
    if (rc == 0) {
        rc = app_open(k, false, err, sizeof err);
        if (rc)
            snprintf(im->err, sizeof im->err, "%s", err);
    }
    if (rc == 0) {
        j.next = next_product;
        j.arg = im;
        store_actor_set(&j.by, NULL, "import");
        rc = store_run(k->store, &j.job);
        if (rc && !im->err[0])
            snprintf(im->err, sizeof im->err, "%s", kioskd_strerror(rc));
        app_close(k);
    }
    csv_free(&im->p);
    fclose(im->f);
    free(im->line);
    if (rc)
        fprintf(stderr, "kioskd import: %s; nothing was imported\n",
                im->err[0] ? im->err : kioskd_strerror(rc));
    free(im);
    if (rc)
        return 1;
    int64_t ms = mono_ms() - t0;
    printf("imported %lld products (%lld new, %lld updated) in %lld.%03lld s\n",
           (long long)(j.added + j.updated), (long long)j.added, (long long)j.updated,
           (long long)(ms / 1000), (long long)(ms % 1000));
    return 0;
}
