/*
 * kioskd import products FILE.csv (header code,name,coefficient): the rows
 * (daemon/csvrows.c) are pulled by the store's writer inside one job, as for
 * members: a bad row, named by its line and field, rolls the whole import back. Re-importing
 * updates products by code; a changed coefficient applies to new ledger lines only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/points.h"
#include "core/status.h"
#include "core/validate.h"
#include "daemon/cli.h"
#include "daemon/csvrows.h"
#include "store/products.h"

enum col { C_CODE, C_NAME, C_COEF, C_COUNT };
static const char *const col_names[C_COUNT] = {"code", "name", "coefficient"};
const struct csvrows_spec import_products_csv = {
    .names = col_names,
    .ncols = C_COUNT,
    .expected = "code,name,coefficient",
    .field_max = 512,
};

int import_product_row(struct csvrows *im, struct store_product *p)
{
    int rc = csvrows_next(im);
    if (rc <= 0)
        return rc;
    memset(p, 0, sizeof *p);
    const char *code = csvrows_col(im, C_CODE);
    size_t clen = strlen(code);
    if (clen == 0 || clen > PRODUCT_CODE_MAX ||
        strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != clen)
        return csvrows_fail(im, "code", "must be 1 to 32 letters, digits, '-' or '_'");
    const char *name = csvrows_col(im, C_NAME);
    const char *why = validate_text(name, strlen(name), 1, PRODUCT_NAME_MAX);
    if (why || strlen(name) >= sizeof p->name)
        return csvrows_fail(im, "name", why ? why : "is too long");
    if (points_parse_coef(csvrows_col(im, C_COEF), &p->coef_milli, &why) != 0)
        return csvrows_fail(im, "coefficient", why ? why : "is not a coefficient");
    snprintf(p->code, sizeof p->code, "%s", code);
    snprintf(p->name, sizeof p->name, "%s", name);
    return 1;
}

/* The writer's row source: the next product, checked. */
static int next_product(void *arg, struct store_product *p)
{
    return import_product_row(arg, p);
}

int cli_import_products(struct kioskd *k, const char *path)
{
    struct csvrows *rows = calloc(1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "kioskd import: out of memory\n");
        return 1;
    }
    struct store_products_import j;
    store_products_import_init(&j);
    j.next = next_product;
    j.arg = rows;
    store_actor_set(&j.by, NULL, "import");
    int status = csvrows_import(
        k, rows, &import_products_csv, path,
        &(struct csvrows_import){
            .what = "products", .job = &j.job, .added = &j.added, .updated = &j.updated});
    free(rows);
    return status;
}
