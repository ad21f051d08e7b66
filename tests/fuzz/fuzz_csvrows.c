/*
 * libFuzzer target: the CSV files `kioskd import` reads, as the importers
 * read them (daemon/csvrows.c: libcsv fed a line at a time, the header
 * mapped to the import's columns, field and line limits). The first byte
 * picks the import's columns (members, products, maturities); the rest is
 * the file, held in a memfd. A row read must have the header's number of
 * fields, each NUL-terminated within the limit; a refusal must say why.
 */
#define _GNU_SOURCE
#include <string.h>

#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct csvrows r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct csvrows_spec *spec = fuzz_import_specs[data[0] % 3];
    int rc = csvrows_open(&r, spec, fuzz_file(data + 1, size - 1));
    int rows = 0;
    if (rc == 0) {
        while ((rc = csvrows_next(&r)) == 1) {
            CHECK(r.nfields == r.header_n && ++rows <= 100000);
            for (int c = 0; c < spec->ncols; c++)
                CHECK(strlen(csvrows_col(&r, c)) <= spec->field_max);
        }
    }
    CHECK(rc == 0 || r.err[0] != '\0');
    csvrows_close(&r);
    return 0;
}
