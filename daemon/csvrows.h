/*
 * A CSV file read one row at a time (libcsv, fed one physical line at a time
 * so that every row knows the line it started on), with its header row mapped
 * to the columns an import expects. Memory stays one row whatever the file's
 * size. The imports (members, products) pull rows from the store's writer
 * inside one job, so a bad row rolls the whole import back.
 */
#ifndef KIOSKD_DAEMON_CSVROWS_H
#define KIOSKD_DAEMON_CSVROWS_H

#include <csv.h>
#include <stdbool.h>
#include <stdio.h>

#define CSVROWS_COLS_MAX 16
#define CSVROWS_FIELD_MAX 512  /* bytes of one field */
#define CSVROWS_LINE_MAX 65536 /* bytes of one line */

/* What an import expects: its columns by header name, which may be absent
 * (bit i of optional), the header as error messages show it, and the longest
 * field it takes (at most CSVROWS_FIELD_MAX). */
struct csvrows_spec {
    const char *const *names;
    int ncols;
    unsigned optional;
    const char *expected;
    size_t field_max;
};

struct csvrows {
    const struct csvrows_spec *spec;
    const char *path;
    FILE *f;
    struct csv_parser p;
    bool parser_ready;
    char *line;
    size_t line_cap;
    long line_no, row_line; /* the line fed last; the line the current row started on */
    char field[CSVROWS_COLS_MAX + 1][CSVROWS_FIELD_MAX + 1];
    int nfields, header_n;
    bool too_long, row_ready;
    int col_of[CSVROWS_COLS_MAX]; /* header position of each column; -1: absent */
    char err[512];                /* "PATH:LINE: what is wrong" after a failure */
};

/* Opens path and reads its header. Returns 0, or a KIOSKD_E* code with err
 * set; csvrows_close is due either way. */
int csvrows_open(struct csvrows *r, const struct csvrows_spec *spec, const char *path);
/* Reads the next row: 1, 0 at the end, or a KIOSKD_E* code with err set (a
 * row with another number of fields than the header, a field too long, a
 * quote never closed, a line too long, a read error). */
int csvrows_next(struct csvrows *r);
/* The field of column c in the current row ("" when the column is absent). */
const char *csvrows_col(const struct csvrows *r, int c);
/* Sets err to "PATH:LINE: field: why" for the current row; returns KIOSKD_EINVAL. */
int csvrows_fail(struct csvrows *r, const char *field, const char *why);
/* Closes the file and wipes the row buffers (they held personal data). */
void csvrows_close(struct csvrows *r);

struct kioskd;
struct store_job;

/* One import as `kioskd import KIND FILE.csv` runs it: a store job that pulls
 * its rows from r (set up by the caller: run, next, arg), its counts, read
 * once it has run, and optionally the words for a refusal of the job. */
struct csvrows_import {
    const char *what; /* "members": the line printed after the import */
    struct store_job *job;
    const int64_t *added, *updated;
    /* may be NULL: writes into r->err why the store refused the job */
    void (*refused)(struct csvrows *r, const struct store_job *job, void *arg);
    void *arg;
};
/* Opens path into r with spec, runs the import's job in one transaction,
 * closes r and prints the outcome (the error with "nothing was imported" on
 * stderr, or the counts and time on stdout). Returns the exit status: 0 or 1. */
int csvrows_import(struct kioskd *k, struct csvrows *r, const struct csvrows_spec *spec,
                   const char *path, const struct csvrows_import *im);

#endif
