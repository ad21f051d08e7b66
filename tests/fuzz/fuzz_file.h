/*
 * Shared by the fuzz targets that read CSV files as `kioskd import` does
 * (csvrows, importrows): CHECK aborts on a broken promise, fuzz_file holds
 * the input in a memfd and names it, and fuzz_import_specs are the three
 * imports' columns, picked by an input's first byte.
 */
#ifndef KIOSKD_FUZZ_FILE_H
#define KIOSKD_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "daemon/csvrows.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static const struct csvrows_spec *const fuzz_import_specs[] = {
    &import_members_csv, &import_products_csv, &import_maturities_csv};

/* Writes size bytes of data to the target's memfd (made on the first call)
 * and returns a path that opens it. */
static const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-file", 0);
        CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    return path;
}

#endif
