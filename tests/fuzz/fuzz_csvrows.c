/*
 * libFuzzer target: the CSV files `kioskd import` reads, as the importers
 * read them (daemon/csvrows.c: libcsv fed a line at a time, the header
 * mapped to the import's columns, field and line limits). The first byte
 * picks the import's columns (members, products, maturities); the rest is
 * the file, held in a memfd. A row read must have the header's number of
 * fields, each NUL-terminated within the limit; a refusal must say why.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/status.h"
#include "daemon/csvrows.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const members[] = {"member_no", "name",      "phone",   "aum",
                                      "birthday",  "household", "last_txn"};
static const char *const products[] = {"code", "name", "coefficient"};
static const char *const maturities[] = {"member_no", "product", "amount", "matures_on"};
static const struct csvrows_spec specs[] = {
    {.names = members, .ncols = 7, .optional = 1u << 6, .expected = "members", .field_max = 256},
    {.names = products, .ncols = 3, .optional = 0, .expected = "products", .field_max = 128},
    {.names = maturities, .ncols = 4, .optional = 0, .expected = "maturities", .field_max = 64},
};

static struct csvrows r;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-csv", 0);
        CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (size < 1)
        return 0;
    const struct csvrows_spec *spec = &specs[data[0] % 3];
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, data + 1, size - 1, 0) == (ssize_t)(size - 1));
    int rc = csvrows_open(&r, spec, path);
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
