/*
 * The PostgreSQL backend of the store, for `kioskd hq` (store_opts.pg_url):
 * the connection, the schema (store/hq_migrations/ translated by
 * hqdb_ddl_to_pg, the version applied kept in the table kioskd_schema) and
 * the PostgreSQL thread that runs the jobs. The jobs themselves are the
 * same as on SQLite (store/hq.c through store/hqdb.h).
 *
 * The thread owns the only connection; the loop never touches it.
 *  P1. Each job runs in its own transaction (READ COMMITTED): BEGIN, run,
 *      COMMIT when it returned 0, else ROLLBACK. Several `kioskd hq`
 *      processes may share the database: the jobs lock what they must (the
 *      device's row) and rely on unique keys, not on being alone.
 *  P2. A job PostgreSQL aborted for a deadlock or a serialization failure is
 *      run again from the start (a few times), unless it set no_retry.
 *  P3. A lost connection fails the job that met it (KIOSKD_EIO: 503); the
 *      next job reconnects first, and fails the same way while PostgreSQL
 *      stays away. Nothing is committed half: a job whose COMMIT got no
 *      answer is answered with an error, and its effects are idempotent
 *      (entries stored by id, a signature accepted once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/embedded.h"
#include "core/status.h"
#include "store/hqdb.h"
#include "store/pg_int.h"
#include "store/store_int.h"

#define PG_RETRIES 5
#define PG_TAKE 16
#define DDL_MAX 65536

static const char PG_PRELUDE[] =
    "CREATE TABLE IF NOT EXISTS kioskd_schema (version integer NOT NULL);";

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pgc_error(struct pgc *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* 08: connection exception; 57P: the server is shutting down or restarting */
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0) {
        c->lost = true;
        return KIOSKD_EIO;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        c->retry = true;
        return KIOSKD_EBUSY;
    }
    if (strncmp(state, "23", 2) == 0)
        return KIOSKD_ECONFLICT;
    if (strcmp(state, "53100") == 0)
        return KIOSKD_EFULL;
    return KIOSKD_EIO;
}

void pgc_forget(struct pgc *c)
{
    for (int i = 0; i < c->nstmt; i++) {
        if (c->stmt[i].res)
            PQclear(c->stmt[i].res);
        if (c->stmt[i].blob)
            PQfreemem(c->stmt[i].blob);
    }
    c->nstmt = 0;
    c->pending = 0;
}

int pgc_connect(struct pgc *c, char *err, size_t errlen)
{
    /* the URL's own settings come later and win */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"10", "kioskd-hq", c->url, NULL};
    if (c->conn)
        PQfinish(c->conn);
    pgc_forget(c);
    c->conn = PQconnectdbParams(keys, vals, 1);
    c->lost = false;
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        if (err)
            snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                     c->conn ? PQerrorMessage(c->conn) : "out of memory");
        return KIOSKD_EIO;
    }
    PQsetNoticeProcessor(c->conn, quiet, NULL);
    return 0;
}

/* Runs sql (no parameters, no rows wanted); 0 or a KIOSKD_E* code. */
static int pg_exec(struct pgc *c, const char *sql)
{
    PGresult *r = PQexec(c->conn, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                 ? 0
                 : pgc_error(c, r);
    PQclear(r);
    return rc;
}

/* Applies the migrations newer than the database's version, in one
 * transaction under an advisory lock (processes starting together). */
static int pg_migrate(struct pgc *c, const struct embedded_file *set, char *err, size_t errlen)
{
    int latest = 0, version = 0, rc;
    char sql[96];
    for (const struct embedded_file *m = set; m->name; m++)
        if (store_migration_number(m->name) > latest)
            latest = store_migration_number(m->name);
    char *ddl = malloc(DDL_MAX);
    if (!ddl) {
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    if ((rc = pg_exec(c, "BEGIN")) != 0 ||
        (rc = pg_exec(c, "SELECT pg_advisory_xact_lock(7308604759119307617)")) != 0 ||
        (rc = pg_exec(c, PG_PRELUDE)) != 0)
        goto sqlerr;
    PGresult *r = PQexec(c->conn, "SELECT version FROM kioskd_schema");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgc_error(c, r);
        PQclear(r);
        goto sqlerr;
    }
    bool fresh = PQntuples(r) == 0;
    if (!fresh)
        version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (version > latest) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this kioskd understands (%d); "
                 "run the kioskd that created it",
                 version, latest);
        pg_exec(c, "ROLLBACK");
        free(ddl);
        return KIOSKD_ESCHEMA;
    }
    for (const struct embedded_file *m = set; m->name; m++) {
        if (store_migration_number(m->name) <= version)
            continue;
        if (hqdb_ddl_to_pg((const char *)m->data, ddl, DDL_MAX) != 0) {
            snprintf(err, errlen, "migration %s is too long", m->name);
            pg_exec(c, "ROLLBACK");
            free(ddl);
            return KIOSKD_ETOOBIG;
        }
        if (pg_exec(c, ddl) != 0) {
            snprintf(err, errlen, "migration %s failed: %s", m->name, PQerrorMessage(c->conn));
            pg_exec(c, "ROLLBACK");
            free(ddl);
            return KIOSKD_EIO;
        }
    }
    snprintf(sql, sizeof sql,
             fresh ? "INSERT INTO kioskd_schema(version) VALUES (%d)"
                   : "UPDATE kioskd_schema SET version = %d",
             latest);
    if ((rc = pg_exec(c, sql)) != 0 || (rc = pg_exec(c, "COMMIT")) != 0)
        goto sqlerr;
    free(ddl);
    return 0;
sqlerr:
    snprintf(err, errlen, "PostgreSQL: %s", PQerrorMessage(c->conn));
    pg_exec(c, "ROLLBACK");
    free(ddl);
    return rc ? rc : KIOSKD_EIO;
}

int pg_store_open(struct store *s, const char *url, const struct embedded_file *set, char *err,
                  size_t errlen)
{
    struct pgc *c = calloc(1, sizeof *c);
    if (!c || !(c->url = strdup(url))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    s->pg = c;
    int rc = pgc_connect(c, err, errlen);
    if (rc == 0)
        rc = pg_migrate(c, set, err, errlen);
    atomic_store(&s->pg_up, rc == 0);
    return rc;
}

void pg_store_close(struct store *s)
{
    struct pgc *c = s->pg;
    if (!c)
        return;
    pgc_forget(c);
    if (c->conn)
        PQfinish(c->conn);
    free(c->url);
    free(c);
    s->pg = NULL;
}

/* Reconnects when the connection was lost; true when it answers. */
static bool pg_ready(struct store *s)
{
    struct pgc *c = s->pg;
    return !(c->lost || PQstatus(c->conn) != CONNECTION_OK) || pgc_connect(c, NULL, 0) == 0;
}

/* Runs one job in its own transaction (P1 to P3); returns its rc. */
static int pg_job(struct store *s, struct store_job *j, struct rng *rng)
{
    struct pgc *c = s->pg;
    for (int attempt = 0;; attempt++) {
        struct store_tx tx = {.s = s,
                              .pg = c,
                              .rng = rng,
                              .now_us = store_now_us() + atomic_load(&s->clock_shift_us)};
        if (!pg_ready(s)) {
            atomic_store(&s->pg_up, false);
            return KIOSKD_EIO;
        }
        int rc = pg_exec(c, "BEGIN");
        if (rc != 0 && c->lost && attempt == 0)
            continue; /* lost while idle: nothing ran yet, reconnect once */
        if (rc == 0) {
            c->retry = false;
            rc = j->run(&tx, j);
            int frc = pgc_flush(c); /* what the job deferred, even when it failed */
            if (rc == 0)
                rc = frc;
            bool again = c->retry;
            if (rc == 0)
                rc = pg_exec(c, "COMMIT");
            else
                pg_exec(c, "ROLLBACK");
            again = again || c->retry;
            if (rc != 0 && again && !tx.no_retry && attempt < PG_RETRIES)
                continue;
        }
        atomic_store(&s->pg_up, !c->lost && PQstatus(c->conn) == CONNECTION_OK);
        return rc;
    }
}

void *pg_main(void *arg)
{
    struct store *s = arg;
    struct jobq_node *nodes[PG_TAKE];
    struct rng rng;
    int rng_rc = store_thread_begin(&rng);
    size_t taken;
    while ((taken = jobq_take(&s->q, nodes, PG_TAKE)) > 0) {
        for (size_t i = 0; i < taken; i++) {
            struct store_job *j = store_job_of(nodes[i]);
            double t0 = store_mono_seconds();
            j->rc = rng_rc != 0 ? KIOSKD_ECRYPTO : pg_job(s, j, &rng);
            double dt = store_mono_seconds() - t0;
            pthread_mutex_lock(&s->mu);
            s->stats.jobs++;
            s->stats.batches++;
            if (j->rc) {
                s->stats.jobs_failed++;
                if (j->rc == KIOSKD_EIO)
                    s->stats.commits_failed++;
            }
            s->stats.last_commit_rc = atomic_load(&s->pg_up) ? 0 : KIOSKD_EIO;
            hist_observe(&s->stats.batch_size, 1);
            hist_observe(&s->stats.commit_seconds, dt);
            pthread_mutex_unlock(&s->mu);
            jobq_finish(&s->q, &nodes[i], 1);
            if (s->notify)
                s->notify(s->notify_arg);
        }
    }
    rng_free(&rng);
    return NULL;
}
