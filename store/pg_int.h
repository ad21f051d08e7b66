/* Internals of the PostgreSQL backend of `kioskd hq`'s store, shared by
 * store/pg.c (connection, migrations, the storage thread) and store/hqdb.c
 * (statements); nothing outside store/ includes this. */
#ifndef KIOSKD_STORE_PG_INT_H
#define KIOSKD_STORE_PG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#define PG_STMT_SLOTS 64
#define PG_PARAMS_MAX 16

/* A statement prepared on the connection (named "hqN" by its slot) the
 * first time it runs, with the types of its first bindings. */
struct pg_stmt {
    struct pgc *c;
    const char *sql; /* its text in hqdb's ?N dialect, the cache key */
    char name[16];
    bool prepared;
    int nparams;
    Oid types[PG_PARAMS_MAX];
    const char *vals[PG_PARAMS_MAX];
    int lens[PG_PARAMS_MAX];
    int fmts[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][24]; /* integers as text */
    PGresult *res;               /* NULL until it ran */
    int row, nrows;
    int64_t changes;
    unsigned char *blob; /* the last bytea column read, decoded (PQfreemem) */
};

#define PG_PIPELINE_MAX 1024

/* The storage thread's connection. */
struct pgc {
    PGconn *conn;
    char *url;
    struct pg_stmt stmt[PG_STMT_SLOTS];
    int nstmt;
    /* statements sent in pipeline mode (hqdb_defer) whose results are unread,
     * each with where its row count goes (NULL: nowhere) */
    int pending;
    int64_t *pending_changes[PG_PIPELINE_MAX];
    bool retry; /* the last error was a deadlock or serialization failure */
    bool lost;  /* the connection failed or the server is going away: reconnect */
};

/* Connects (PQconnectdb) and checks; 0 or KIOSKD_EIO with err. */
int pgc_connect(struct pgc *c, char *err, size_t errlen);
/* Forgets every prepared statement (after a reconnect). */
void pgc_forget(struct pgc *c);
/* Reads the results of every deferred statement and leaves pipeline mode: 0
 * or the first statement's error. */
int pgc_flush(struct pgc *c);
/* Maps a failed result to a KIOSKD_E* code, noting deadlocks (c->retry). */
int pgc_error(struct pgc *c, const PGresult *res);

#endif
