/*
 * The database layer under `kioskd hq`'s jobs (store/hq.c): one statement
 * interface over SQLite (the store's writer connection) and PostgreSQL
 * (libpq, the store's PostgreSQL thread; store/pg.c), so that every job is
 * written once. Statements are static strings with positional parameters
 * ?1, ?2, ... written once for both engines (libpq gets them as $1, $2, ...),
 * cached per connection by the address of their text. SQL that runs on both
 * is the caller's business: standard SQL plus ON CONFLICT DO NOTHING.
 *
 * Not for what is not a job of `kioskd hq`; a branch's store uses SQLite
 * directly.
 *
 * A statement lives on the caller's stack between hqdb_prepare and
 * hqdb_reset: bind, step until HQDB_DONE (or stop early), read columns of the
 * current row, reset. Bound text and blobs must stay valid until the first
 * step. Column pointers are valid until the next step or reset.
 */
#ifndef KIOSKD_STORE_HQDB_H
#define KIOSKD_STORE_HQDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_tx;
struct pg_stmt;
struct sqlite3_stmt;
struct json_t;

enum { HQDB_ROW = 1, HQDB_DONE = 2 };

struct hqdb_stmt {
    struct store_tx *tx;
    struct sqlite3_stmt *lite; /* SQLite: the cached statement */
    struct pg_stmt *pg;        /* PostgreSQL: the cached statement */
};

/* Gets the cached statement for sql on the job's connection; 0 or KIOSKD_EIO. */
int hqdb_prepare(struct store_tx *tx, struct hqdb_stmt *st, const char *sql);
/* Binds parameter i (1-based). A parameter keeps the type of its first bind. */
void hqdb_bind_text(struct hqdb_stmt *st, int i, const char *text);
void hqdb_bind_int64(struct hqdb_stmt *st, int i, int64_t v);
void hqdb_bind_blob(struct hqdb_stmt *st, int i, const void *data, size_t len);
/* Binds NULL; on PostgreSQL the parameter takes the type of its column. */
void hqdb_bind_null(struct hqdb_stmt *st, int i);
/* Runs the statement or moves to its next row: HQDB_ROW, HQDB_DONE or a
 * KIOSKD_E* code (KIOSKD_EIO when the database is gone, KIOSKD_EBUSY when
 * PostgreSQL gave up the transaction for a deadlock or a serialization
 * failure: the job is run again). */
int hqdb_step(struct hqdb_stmt *st);
/* Ends the use of the statement (results freed). */
void hqdb_reset(struct hqdb_stmt *st);
/* Steps a statement that returns no row, then resets it: 0 or a KIOSKD_E* code;
 * *changes (may be NULL) gets the rows it inserted, updated or deleted. */
int hqdb_exec(struct hqdb_stmt *st, int64_t *changes);

/* Runs a statement that returns no row without waiting for its outcome where
 * the engine allows it (PostgreSQL's pipeline mode: one round trip for many
 * statements; SQLite runs it at once), and resets it. *changes (may be NULL)
 * is added the rows it changed once it has run. hqdb_flush waits for every
 * deferred statement and returns the first error; hqdb_prepare of another
 * statement, and the end of the job, flush first. 0 or a KIOSKD_E* code. */
int hqdb_defer(struct hqdb_stmt *st, int64_t *changes);
int hqdb_flush(struct store_tx *tx);

bool hqdb_column_null(struct hqdb_stmt *st, int col);
int64_t hqdb_column_int64(struct hqdb_stmt *st, int col);
/* NUL-terminated text ("" for NULL) */
const char *hqdb_column_text(struct hqdb_stmt *st, int col);
/* The bytes of a text or blob column; *len gets their number. NULL when the
 * column is NULL or (a blob from PostgreSQL) cannot be decoded. */
const void *hqdb_column_blob(struct hqdb_stmt *st, int col, size_t *len);

/* The JSON document of text column col (a new reference), or NULL when it
 * is NULL or not JSON. */
struct json_t *hqdb_column_json(struct hqdb_stmt *st, int col);

/* Call before writing hq_changes in a job: PostgreSQL gives a change its seq
 * when it is written but makes it visible at commit, so with writers in
 * several processes a branch could pull seq 11 before seq 10 commits and
 * skip 10 for good. This lock (a transaction-level advisory lock on
 * PostgreSQL; nothing on SQLite, whose writer is alone) makes writers of
 * changes take turns, so seqs become visible in order. Taken once per
 * transaction (later calls do nothing). 0 or a KIOSKD_E* code. */
int hqdb_lock_changes(struct store_tx *tx);

/* Writes sql (SQLite's dialect of a store/hq_migrations/ file) into out as
 * PostgreSQL: INTEGER -> BIGINT, INTEGER PRIMARY KEY AUTOINCREMENT -> an
 * identity column, BLOB -> BYTEA, no STRICT, json_valid(x) (x without
 * parentheses) -> a cast to json. Returns 0, KIOSKD_EINVAL when a
 * json_valid( has no ')', or KIOSKD_ETOOBIG when out is short. */
int hqdb_ddl_to_pg(const char *sql, char *out, size_t outlen);

#endif
