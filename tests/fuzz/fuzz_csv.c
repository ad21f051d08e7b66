/* libFuzzer target: the CSV reader used by `kioskd import`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct csv c;
    struct csv_row row;
    csvmem_init(&c, (const char *)data, size);
    int rc, rows = 0;
    while ((rc = csvmem_next(&c, &row)) == 1 && rows < 100000) {
        rows++;
        for (int i = 0; i < row.n; i++)
            if (strlen(row.field[i]) > CSV_MAX_FIELD)
                __builtin_trap();
        if (row.n < 1 || row.n > CSV_MAX_FIELDS)
            __builtin_trap();
    }
    csvmem_free(&c);
    return 0;
}
