/*
 * kioskd import maturities FILE.csv (header member_no,product,amount,matures_on):
 * the rows (daemon/csvrows.c) are pulled by the store's writer inside one job,
 * as for members and products: a bad row, named by its line and field, or a
 * member number the members table lacks, rolls the whole import back.
 * amount is in CNY (up to 2 decimals), matures_on a date YYYY-MM-DD. A
 * maturity is (member, product, date): importing it again replaces its
 * amount; the scheduler's maturity reminders (docs/messages.md) come from
 * these rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/tier.h"
#include "core/validate.h"
#include "daemon/cli.h"
#include "daemon/csvrows.h"
#include "store/messages.h"

enum col { C_NO, C_PRODUCT, C_AMOUNT, C_MATURES, C_COUNT };
static const char *const col_names[C_COUNT] = {"member_no", "product", "amount", "matures_on"};
const struct csvrows_spec import_maturities_csv = {
    .names = col_names,
    .ncols = C_COUNT,
    .expected = "member_no,product,amount,matures_on",
    .field_max = 512,
};

#define PRODUCT_CHARS_MAX 100

int import_maturity_row(struct csvrows *im, struct store_maturity *m)
{
    int rc = csvrows_next(im);
    if (rc <= 0)
        return rc;
    memset(m, 0, sizeof *m);
    const char *no = csvrows_col(im, C_NO);
    size_t nlen = strlen(no);
    if (nlen == 0 || nlen > MEMBER_NO_MAX ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return csvrows_fail(im, "member_no", "must be 1 to 32 letters, digits, '-' or '_'");
    const char *product = csvrows_col(im, C_PRODUCT);
    const char *why = validate_text(product, strlen(product), 1, PRODUCT_CHARS_MAX);
    if (why || strlen(product) >= sizeof m->product)
        return csvrows_fail(im, "product", why ? why : "is too long");
    if (cny_to_fen(csvrows_col(im, C_AMOUNT), &m->amount, &why) != 0)
        return csvrows_fail(im, "amount", why ? why : "is not an amount in CNY");
    const char *date = csvrows_col(im, C_MATURES);
    if (!validate_date(date))
        return csvrows_fail(im, "matures_on", "must be a date YYYY-MM-DD");
    snprintf(m->member_no, sizeof m->member_no, "%s", no);
    snprintf(m->product, sizeof m->product, "%s", product);
    snprintf(m->matures_on, sizeof m->matures_on, "%s", date);
    m->line = (int)im->row_line;
    return 1;
}

/* The writer's row source: the next maturity, checked. */
static int next_maturity(void *arg, struct store_maturity *m)
{
    return import_maturity_row(arg, m);
}

/* A member number the members table lacks: named with its line. */
static void maturity_refused(struct csvrows *r, const struct store_job *job, void *arg)
{
    const struct store_maturities_import *j = arg;
    if (job->why == WHY_MEMBER_NOT_FOUND)
        snprintf(r->err, sizeof r->err, "%s:%d: member_no: no such member", r->path, j->bad_line);
    else
        snprintf(r->err, sizeof r->err, "%s", kioskd_strerror(KIOSKD_EREFUSED));
}

int cli_import_maturities(struct kioskd *k, const char *path)
{
    struct csvrows *rows = calloc(1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "kioskd import: out of memory\n");
        return 1;
    }
    struct store_maturities_import j;
    store_maturities_import_init(&j);
    j.next = next_maturity;
    j.arg = rows;
    int status = csvrows_import(k, rows, &import_maturities_csv, path,
                                &(struct csvrows_import){.what = "maturities",
                                                         .job = &j.job,
                                                         .added = &j.added,
                                                         .updated = &j.updated,
                                                         .refused = maturity_refused,
                                                         .arg = &j});
    free(rows);
    return status;
}
