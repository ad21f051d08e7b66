/*
 * libFuzzer target: the CSV importers' own row checks (import_member_row,
 * import_product_row, import_maturity_row in daemon/import_*.c), without a
 * database or keys. The first byte picks the import; the rest is the file,
 * held in a memfd and read as the importer reads it (daemon/csvrows.c, the
 * import's own columns). Every row a check accepts must hold what the import
 * then writes: a member number of 1 to 32 letters, digits, '-' or '_', a
 * mobile number, dates, a bounded household, a product code and name, an
 * amount that is not negative; every refusal must say why.
 */
#define _GNU_SOURCE
#include <string.h>

#include "core/validate.h"
#include "store/messages.h"
#include "store/products.h"
#include "tests/fuzz/fuzz_file.h"

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct csvrows r;

static void check_id(const char *s, size_t max)
{
    size_t n = strlen(s);
    CHECK(n >= 1 && n <= max && strspn(s, ID_CHARS) == n);
}

/* One row of the import `which`: 1, 0 at the end, or a refusal. */
static int row(int which)
{
    if (which == 0) {
        char name[160];
        struct member_fields f;
        int rc = import_member_row(&r, name, sizeof name, &f);
        if (rc == 1) {
            check_id(f.member_no, MEMBER_NO_MAX);
            CHECK(f.name == name && strlen(name) >= 1 && strlen(name) < sizeof name);
            CHECK(validate_mobile(f.phone) && f.aum_fen >= 0 && validate_date(f.birthday));
            CHECK(strlen(f.household) <= 64 && !strpbrk(f.household, "\t\r\n"));
            CHECK(!*f.last_txn || validate_date(f.last_txn));
        }
        return rc;
    }
    if (which == 1) {
        struct store_product p;
        int rc = import_product_row(&r, &p);
        if (rc == 1) {
            check_id(p.code, PRODUCT_CODE_MAX);
            CHECK(strlen(p.name) >= 1 && p.coef_milli >= 0 && p.coef_milli <= 100000);
        }
        return rc;
    }
    struct store_maturity m;
    int rc = import_maturity_row(&r, &m);
    if (rc == 1) {
        check_id(m.member_no, MEMBER_NO_MAX);
        CHECK(strlen(m.product) >= 1 && m.amount >= 0 && validate_date(m.matures_on));
        CHECK(m.line >= 2 && m.line <= r.line_no);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3;
    int rc = csvrows_open(&r, fuzz_import_specs[which], fuzz_file(data + 1, size - 1));
    int rows = 0;
    if (rc == 0)
        while ((rc = row(which)) == 1)
            CHECK(++rows <= 100000);
    CHECK(rc == 0 || r.err[0] != '\0');
    csvrows_close(&r);
    return 0;
}
