/*
 * A strict RFC 4180 CSV reader for imports, and the field writer of exports: UTF-8 (a leading BOM
 * is skipped), comma separated, fields optionally in double quotes with "" for a quote, records
 * ending in LF or CRLF (quoted fields may span lines). Pure: reads from memory.
 */
#ifndef KIOSKD_CSV_H
#define KIOSKD_CSV_H

#include <stddef.h>

#include "core/buf.h"

#define CSV_MAX_FIELDS 32
#define CSV_MAX_FIELD 4096

struct csv {
    const char *p, *end;
    int line;         /* line the next record starts on (1-based) */
    struct buf store; /* the current record's fields, NUL separated */
    char error[96];
};

struct csv_row {
    int line; /* where the record starts */
    int n;
    const char *field[CSV_MAX_FIELDS]; /* point into the reader; valid until the next call */
};

/* Starts reading data[0..len). */
void csvmem_init(struct csv *c, const char *data, size_t len);
/* Reads the next record. Returns 1 with a row, 0 at the end, or
 * KIOSKD_EMALFORMED (c->error says what, row->line where). Blank lines are skipped. */
int csvmem_next(struct csv *c, struct csv_row *row);
void csvmem_free(struct csv *c);

/* Appends one field of a CSV export to b: quoted when it holds a comma, a
 * quote, CR or LF (quotes doubled), and neutralised against formula
 * injection: a field that starts with =, +, -, @, TAB or CR gets a leading
 * apostrophe, so a spreadsheet shows it as text. 0, KIOSKD_ETOOBIG or
 * KIOSKD_ENOMEM. */
int csv_put_field(struct buf *b, const char *s);

#endif
