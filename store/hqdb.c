/* The statement layer of `kioskd hq`'s jobs over SQLite and PostgreSQL (store/hqdb.h). */
#include "store/hqdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "store/pg_int.h"
#include "store/store_int.h"

#define OID_INT8 20
#define OID_TEXT 25
#define OID_BYTEA 17

/* --- PostgreSQL --- */

/* The number of the highest ?N in sql. */
static int params_of(const char *sql)
{
    int max = 0;
    for (const char *p = sql; *p; p++) {
        if (*p != '?')
            continue;
        int n = 0;
        while (p[1] >= '0' && p[1] <= '9')
            n = n * 10 + (*++p - '0');
        if (n > max)
            max = n;
    }
    return max;
}

/* sql with ?N written $N; a new string, the caller frees. */
static char *dollars(const char *sql)
{
    char *out = strdup(sql);
    if (out)
        for (char *p = out; *p; p++)
            if (*p == '?')
                *p = '$';
    return out;
}

static int pg_get(struct pgc *c, const char *sql, struct pg_stmt **out)
{
    for (int i = 0; i < c->nstmt; i++)
        if (c->stmt[i].sql == sql) {
            *out = &c->stmt[i];
            return 0;
        }
    int n = params_of(sql);
    if (c->nstmt == PG_STMT_SLOTS || n > PG_PARAMS_MAX)
        return KIOSKD_EIO; /* a programming error: raise the bounds */
    struct pg_stmt *st = &c->stmt[c->nstmt];
    memset(st, 0, sizeof *st);
    st->c = c;
    st->sql = sql;
    st->nparams = n;
    snprintf(st->name, sizeof st->name, "hq%d", c->nstmt);
    c->nstmt++;
    *out = st;
    return 0;
}

static void pg_clear(struct pg_stmt *st)
{
    if (st->res)
        PQclear(st->res);
    if (st->blob)
        PQfreemem(st->blob);
    st->res = NULL;
    st->blob = NULL;
    st->row = st->nrows = 0;
    for (int i = 0; i < PG_PARAMS_MAX; i++) {
        st->vals[i] = NULL;
        st->lens[i] = 0;
        st->fmts[i] = 0;
    }
}

static void pg_bind(struct pg_stmt *st, int i, Oid type, const char *val, int len, int fmt)
{
    if (i < 1 || i > st->nparams)
        return;
    if (!st->types[i - 1])
        st->types[i - 1] = type;
    st->vals[i - 1] = val;
    st->lens[i - 1] = len;
    st->fmts[i - 1] = fmt;
}

int pgc_flush(struct pgc *c)
{
    int rc = 0;
    if (c->pending == 0)
        return 0;
    if (PQpipelineSync(c->conn) != 1)
        rc = pgc_error(c, NULL);
    for (int i = 0; i < c->pending && rc == 0; i++) {
        PGresult *r = PQgetResult(c->conn);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            if (c->pending_changes[i])
                *c->pending_changes[i] += strtoll(PQcmdTuples(r), NULL, 10);
        } else {
            rc = pgc_error(c, r);
        }
        PQclear(r);
        while ((r = PQgetResult(c->conn)) != NULL) /* the end of this statement's results */
            PQclear(r);
    }
    /* after an error the rest are PGRES_PIPELINE_ABORTED, then the sync */
    for (int guard = 0; !c->lost && guard < 2 * PG_PIPELINE_MAX + 4; guard++) {
        PGresult *r = PQgetResult(c->conn);
        ExecStatusType t = r ? PQresultStatus(r) : PGRES_EMPTY_QUERY;
        PQclear(r);
        if (t == PGRES_PIPELINE_SYNC)
            break;
        if (!r && PQstatus(c->conn) != CONNECTION_OK)
            c->lost = true;
    }
    c->pending = 0;
    if (PQexitPipelineMode(c->conn) != 1 && rc == 0)
        rc = pgc_error(c, NULL);
    return rc;
}

static int pg_prepare(struct pg_stmt *st)
{
    struct pgc *c = st->c;
    char *text = dollars(st->sql);
    if (!text)
        return KIOSKD_ENOMEM;
    PGresult *r = PQprepare(c->conn, st->name, text, st->nparams, st->types);
    free(text);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pgc_error(c, r);
    PQclear(r);
    st->prepared = rc == 0;
    return rc;
}

static int pg_defer(struct pg_stmt *st, int64_t *changes)
{
    struct pgc *c = st->c;
    int rc;
    if (c->pending == PG_PIPELINE_MAX && (rc = pgc_flush(c)) != 0)
        return rc;
    if (!st->prepared && ((rc = pgc_flush(c)) != 0 || (rc = pg_prepare(st)) != 0))
        return rc;
    if (c->pending == 0 && PQenterPipelineMode(c->conn) != 1)
        return pgc_error(c, NULL);
    if (PQsendQueryPrepared(c->conn, st->name, st->nparams, st->vals, st->lens, st->fmts, 0) != 1) {
        rc = pgc_error(c, NULL);
        pgc_flush(c);
        return rc;
    }
    c->pending_changes[c->pending++] = changes;
    return 0;
}

static int pg_step(struct pg_stmt *st)
{
    struct pgc *c = st->c;
    if (st->res)
        return ++st->row < st->nrows ? HQDB_ROW : HQDB_DONE;
    c->retry = false;
    if (!st->prepared) {
        int rc = pg_prepare(st);
        if (rc)
            return rc;
    }
    st->res = PQexecPrepared(c->conn, st->name, st->nparams, st->vals, st->lens, st->fmts, 0);
    switch (PQresultStatus(st->res)) {
    case PGRES_COMMAND_OK:
        st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
        st->nrows = 0;
        return HQDB_DONE;
    case PGRES_TUPLES_OK:
        st->nrows = PQntuples(st->res);
        st->changes = st->nrows;
        st->row = 0;
        return st->nrows > 0 ? HQDB_ROW : HQDB_DONE;
    default: {
        int rc = pgc_error(c, st->res);
        PQclear(st->res);
        st->res = NULL;
        return rc;
    }
    }
}

/* --- both --- */

int hqdb_prepare(struct store_tx *tx, struct hqdb_stmt *st, const char *sql)
{
    memset(st, 0, sizeof *st);
    st->tx = tx;
    if (tx->pg) {
        int rc = pgc_flush(tx->pg);
        if (rc)
            return rc;
        rc = pg_get(tx->pg, sql, &st->pg);
        if (rc == 0)
            pg_clear(st->pg);
        return rc;
    }
    st->lite = conn_stmt(tx->c, sql);
    return st->lite ? 0 : KIOSKD_EIO;
}

void hqdb_bind_text(struct hqdb_stmt *st, int i, const char *text)
{
    if (st->pg)
        pg_bind(st->pg, i, OID_TEXT, text, 0, 0);
    else
        sqlite3_bind_text(st->lite, i, text, -1, SQLITE_STATIC);
}

void hqdb_bind_int64(struct hqdb_stmt *st, int i, int64_t v)
{
    if (st->pg) {
        if (i < 1 || i > st->pg->nparams)
            return;
        snprintf(st->pg->num[i - 1], sizeof st->pg->num[i - 1], "%lld", (long long)v);
        pg_bind(st->pg, i, OID_INT8, st->pg->num[i - 1], 0, 0);
    } else {
        sqlite3_bind_int64(st->lite, i, v);
    }
}

void hqdb_bind_blob(struct hqdb_stmt *st, int i, const void *data, size_t len)
{
    if (st->pg)
        pg_bind(st->pg, i, OID_BYTEA, data, (int)len, 1);
    else
        sqlite3_bind_blob(st->lite, i, data, (int)len, SQLITE_STATIC);
}

void hqdb_bind_null(struct hqdb_stmt *st, int i)
{
    if (st->pg)
        pg_bind(st->pg, i, 0, NULL, 0, 0); /* its type is the column's */
    else
        sqlite3_bind_null(st->lite, i);
}

int hqdb_step(struct hqdb_stmt *st)
{
    if (st->pg)
        return pg_step(st->pg);
    int rc = sqlite3_step(st->lite);
    return rc == SQLITE_ROW ? HQDB_ROW : rc == SQLITE_DONE ? HQDB_DONE : store_rc(rc);
}

void hqdb_reset(struct hqdb_stmt *st)
{
    if (st->pg)
        pg_clear(st->pg);
    else if (st->lite)
        sqlite3_reset(st->lite);
}

int hqdb_exec(struct hqdb_stmt *st, int64_t *changes)
{
    int rc = hqdb_step(st);
    if (changes)
        *changes = rc < 0   ? 0
                   : st->pg ? st->pg->changes
                            : sqlite3_changes(sqlite3_db_handle(st->lite));
    hqdb_reset(st);
    return rc < 0 ? rc : 0;
}

int hqdb_defer(struct hqdb_stmt *st, int64_t *changes)
{
    int64_t n = 0;
    if (st->pg) {
        int rc = pg_defer(st->pg, changes);
        pg_clear(st->pg);
        return rc;
    }
    int rc = hqdb_exec(st, &n);
    if (rc == 0 && changes)
        *changes += n;
    return rc;
}

int hqdb_flush(struct store_tx *tx)
{
    return tx->pg ? pgc_flush(tx->pg) : 0;
}

bool hqdb_column_null(struct hqdb_stmt *st, int col)
{
    if (st->pg)
        return PQgetisnull(st->pg->res, st->pg->row, col) != 0;
    return sqlite3_column_type(st->lite, col) == SQLITE_NULL;
}

int64_t hqdb_column_int64(struct hqdb_stmt *st, int col)
{
    if (st->pg)
        return strtoll(PQgetvalue(st->pg->res, st->pg->row, col), NULL, 10);
    return sqlite3_column_int64(st->lite, col);
}

const char *hqdb_column_text(struct hqdb_stmt *st, int col)
{
    if (st->pg)
        return PQgetvalue(st->pg->res, st->pg->row, col);
    const unsigned char *t = sqlite3_column_text(st->lite, col);
    return t ? (const char *)t : "";
}

const void *hqdb_column_blob(struct hqdb_stmt *st, int col, size_t *len)
{
    *len = 0;
    if (hqdb_column_null(st, col))
        return NULL;
    if (!st->pg) {
        const void *b = sqlite3_column_blob(st->lite, col);
        *len = (size_t)sqlite3_column_bytes(st->lite, col);
        return b;
    }
    struct pg_stmt *p = st->pg;
    const char *v = PQgetvalue(p->res, p->row, col);
    if (PQftype(p->res, col) != OID_BYTEA) {
        *len = (size_t)PQgetlength(p->res, p->row, col);
        return v;
    }
    if (p->blob)
        PQfreemem(p->blob);
    p->blob = PQunescapeBytea((const unsigned char *)v, len);
    return p->blob;
}

json_t *hqdb_column_json(struct hqdb_stmt *st, int col)
{
    size_t len = 0;
    json_error_t err;
    const char *text = hqdb_column_blob(st, col, &len);
    return text ? json_loadb(text, len, 0, &err) : NULL;
}

int hqdb_lock_changes(struct store_tx *tx)
{
    static const char SQL_LOCK_CHANGES[] = "SELECT pg_advisory_xact_lock(7308604759119307618)";
    struct hqdb_stmt st;
    if (!tx->pg || tx->changes_locked)
        return 0;
    if (hqdb_prepare(tx, &st, SQL_LOCK_CHANGES) != 0)
        return KIOSKD_EIO;
    int rc = hqdb_exec(&st, NULL);
    tx->changes_locked = rc == 0;
    return rc;
}

/* --- the schema --- */

static bool word_at(const char *sql, const char *p, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(p, word, n) != 0)
        return false;
    bool before = p == sql || !(p[-1] == '_' || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= '0' && p[-1] <= '9'));
    char a = p[n];
    bool after =
        !(a == '_' || (a >= 'A' && a <= 'Z') || (a >= 'a' && a <= 'z') || (a >= '0' && a <= '9'));
    return before && after;
}

int hqdb_ddl_to_pg(const char *sql, char *out, size_t outlen)
{
    static const char *const from[] = {"INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", "BLOB",
                                       "STRICT"};
    static const char *const to[] = {"BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                                     "BIGINT", "BYTEA", ""};
    size_t used = 0;
    bool comment = false;
    for (const char *p = sql; *p;) {
        const char *rep = NULL;
        size_t skip = 1;
        if (comment) {
            comment = *p != '\n';
        } else if (p[0] == '-' && p[1] == '-') {
            comment = true;
        } else if (word_at(sql, p, "json_valid") && p[10] == '(') {
            /* json_valid(x) -> ((x)::json IS NOT NULL): text that is not JSON
             * fails the cast, which refuses the row as the CHECK would */
            const char *arg = p + 11, *end = strchr(arg, ')');
            if (!end)
                return KIOSKD_EINVAL;
            int n = snprintf(out + used, outlen - used, "((%.*s)::json IS NOT NULL)",
                             (int)(end - arg), arg);
            if (n < 0 || (size_t)n >= outlen - used)
                return KIOSKD_ETOOBIG;
            used += (size_t)n;
            p = end + 1;
            continue;
        } else {
            for (size_t i = 0; i < sizeof from / sizeof from[0]; i++)
                if (word_at(sql, p, from[i])) {
                    rep = to[i];
                    skip = strlen(from[i]);
                    break;
                }
        }
        const char *add = rep ? rep : p;
        size_t n = rep ? strlen(rep) : 1;
        if (used + n + 1 > outlen)
            return KIOSKD_ETOOBIG;
        memcpy(out + used, add, n);
        used += n;
        p += skip;
    }
    out[used] = '\0';
    return 0;
}
