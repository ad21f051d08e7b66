/*
 * The store: one SQLite database in WAL mode. Knows SQL and nothing of HTTP.
 *
 * Threads: the event loop reads through its own connection (store_* read
 * functions, synchronous, short and indexed). Every change goes through the
 * writer thread, which owns the only write connection: submit a store_job,
 * and its done() runs on the loop after the job's transaction has committed
 * (group commit: every queued job shares one transaction and one fsync, each
 * in its own savepoint so that a failing job rolls back alone).
 *
 * Invariants:
 *  1. Only the writer thread writes; only the loop reads through the read
 *     connection; neither connection is shared between threads.
 *  2. A job's done() runs exactly once, on the loop, after its changes are
 *     durable (rc == 0) or rolled back (rc < 0).
 *  3. The outbox seq is contiguous: entries are appended inside the job's
 *     savepoint and rolled back with it.
 *  4. A job answered 0 is committed; a job answered with an error left
 *     nothing behind; no job's statement ever runs in autocommit mode (even
 *     when SQLite rolls the whole transaction back by itself; see
 *     store/writer.c).
 */
#ifndef KIOSKD_STORE_H
#define KIOSKD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/hist.h"
#include "core/jobq.h"
#include "store/why.h"

struct embedded_file;
struct store;
struct store_tx;
struct store_job;

/* Runs on the writer thread inside the job's savepoint; returns 0 to keep the
 * job's changes or a negative KIOSKD_E* to roll them back. */
typedef int (*store_run_fn)(struct store_tx *tx, struct store_job *job);
/* Runs on the loop after the commit (job->rc says how it ended). */
typedef void (*store_done_fn)(struct store_job *job);

struct store_job {
    store_run_fn run;
    store_done_fn done;
    void *arg;             /* the submitter's, untouched by the store */
    int rc;                /* set by the store before done() */
    enum store_why why;    /* rc == KIOSKD_EREFUSED: the rule that refused it */
    int64_t queued_us;     /* set by store_submit */
    struct jobq_node node; /* owned by the store from submit until done() */
};

/* Who makes a change, for the audit: a staff member and their device (both
 * empty for a guest or the command line). Never personal data. */
struct store_actor {
    char staff_id[33];
    char device[65];
};

/* Copies an actor; either string may be NULL. */
void store_actor_set(struct store_actor *a, const char *staff_id, const char *device);

struct store_opts {
    const char *path;
    int busy_timeout_ms;
    int queue_max;
    int checkpoint_pages;
    bool read_only; /* open for reading only: no writer, no migration */
    bool shared;    /* a command-line tool beside a running daemon: no lock file */
    /* the schema: NULL for a branch's (store/migrations/), or another set of
     * numbered migrations such as HQ's (embedded_hq_migrations) */
    const struct embedded_file *migrations;
    /* a libpq connection string: the jobs run on PostgreSQL instead (path is
     * not used; `kioskd hq` only, whose jobs are written with store/hqdb.h) */
    const char *pg_url;
    void (*notify)(void *arg); /* called from the writer thread when jobs are done */
    void *notify_arg;
};

struct store_stats {
    uint64_t jobs, jobs_failed, batches, commits_failed;
    int queue_depth;
    int last_commit_rc; /* 0 while the last commit succeeded */
    int dir_rc;         /* the folder as the last batch found it (store_dir_check) */
    struct hist batch_size;
    struct hist commit_seconds;
    int64_t outbox_pending;
};

/* Opens (creating the folder and file), locks against a second process,
 * applies migrations. Returns 0 or a KIOSKD_E* code with a message in err. */
int store_open(struct store **out, const struct store_opts *o, char *err, size_t errlen);
/* Starts the writer thread; 0 or KIOSKD_ENOMEM. */
int store_start(struct store *s);
/* Stops accepting jobs, lets the writer commit what is queued, joins it.
 * Finished jobs wait for store_complete(). */
void store_stop(struct store *s);
/* Opens another read connection to s's database, as a store of its own with
 * no writer, for a thread other than the loop (one thread at a time). Never
 * store_open the same database twice in one process: its checks open and
 * close the files, which drops every SQLite lock the process holds on them
 * (POSIX record locks), and another process may then delete the WAL. 0 or a
 * KIOSKD_E* code. Close with store_close. */
int store_open_reader(struct store *s, int busy_timeout_ms, struct store **out);
/* Stops the writer if running and closes everything; accepts NULL. */
void store_close(struct store *s);

/* Queues a job; 0, KIOSKD_EBUSY (queue full) or KIOSKD_ESHUTDOWN. */
int store_submit(struct store *s, struct store_job *job);
/* Queues a job nobody waits for and that may be dropped (a cache: the ticket
 * digests of store/signups.h), in a lane of its own bounded as the queue is:
 * it never takes the place of a request's job. Same returns. */
int store_submit_spare(struct store *s, struct store_job *job);
/* On the loop: runs done() for every finished job; returns how many. */
int store_complete(struct store *s);
/* On the loop: the number of jobs completed so far. It moves whenever a job
 * of this store may have changed data the loop reads (a cache built from
 * reads stays good while it stands still; writes by another process, a
 * command-line tool beside the daemon, do not move it). */
uint64_t store_changes(const struct store *s);
/* Runs one job and waits for its commit (command-line tools only, never the
 * loop); its done() is not called. Returns the job's rc or a submit error. */
int store_run(struct store *s, struct store_job *job);
/* Jobs submitted whose done() has not run yet. */
int store_inflight(struct store *s);
/* Copies the writer's counters (under its lock). */
void store_stats(struct store *s, struct store_stats *out);
/* Read check used by /healthz: 0 when the read connection answers. */
int store_ping(struct store *s);
/* Whether the database can be written where it was opened: 0, KIOSKD_EREADONLY
 * (the folder or one of its files is read-only: a file system remounted
 * read-only, an immutable folder or file, or no write permission) or
 * KIOSKD_EMOVED (the folder or the file was deleted or renamed: writes would go
 * to a file nobody will open again). A few system calls (about 4 us); the
 * writer runs it before each batch, /healthz on the loop. */
int store_dir_check(struct store *s);

/* Copies the database to path with SQLite's online backup API. */
int store_backup(const char *db_path, const char *path, char *err, size_t errlen);
/* Public key PEMs of other daemons whose tickets are accepted (ticket_keys
 * table): up to max new strings in pems (caller frees each). Returns how many, or < 0. */
int store_ticket_keys(struct store *s, char **pems, int max);
/* The public PEM of ticket key kid pulled from HQ into pem[cap] (read
 * connection). 0, KIOSKD_ENOTFOUND, KIOSKD_ETOOBIG or a store error. */
int store_ticket_key_pem(struct store *s, const char *kid, char *pem, size_t cap);
/* Schema version of this build (the highest migration number). */
int store_schema_version(void);

/* Test hook: the next `count` commits fail with SQLite result code rc
 * (e.g. SQLITE_FULL, SQLITE_IOERR). */
void store_fault_commit(struct store *s, int rc, int count);
/* Test hook: jobs see the time (store_tx_now) shifted by us microseconds, so
 * that tests can run a job next year without waiting for it. */
void store_clock_shift(struct store *s, int64_t us);
/* Test hook in SQLite's fault-simulation style: in the first batch taken after
 * this call that holds at least `job` jobs, the stmt-th statement (1-based,
 * counting the statements it asks for) of its job-th job fails with SQLite
 * result code rc. With rollback, the whole transaction is rolled back first,
 * as SQLite does by itself on some errors (3.40.1: SQLITE_FULL, IOERR or NOMEM
 * from a statement that reads a table); without, it stays open as after an
 * error SQLite undid alone (SQLITE_BUSY, or FULL in a statement journal).
 * Fires once; job 0 disarms. */
void store_fault_job(struct store *s, int job, int stmt, int rc, bool rollback);

/* --- For write jobs (writer thread only) --- */

/* Refuses the job for reason why: returns KIOSKD_EREFUSED for the job's run()
 * to return (its changes are rolled back). */
int store_refuse(struct store_job *job, enum store_why why);

/* The time the job started running, microseconds since the epoch (UTC). */
int64_t store_tx_now(const struct store_tx *tx);
/* Appends an outbox journal entry {id uuid, seq, kind, at, data}; data is the
 * JSON object (built with json_pack, so every string in it is escaped), which
 * this call serialises compactly as UTF-8. Steals the reference to data on
 * every path, so `store_outbox_append(tx, kind, json_pack(...))` is safe.
 * Rolled back with the job. Returns 0; KIOSKD_ENOMEM when data is NULL (a
 * failed json_pack) or cannot be serialised; KIOSKD_EINVAL when it is not an
 * object; or another KIOSKD_E* code. */
int store_outbox_append(struct store_tx *tx, const char *kind, json_t *data);
/* Appends an audit line. staff_id, device, subject may be NULL; never pass
 * personal data. Returns 0 or a KIOSKD_E* code. */
int store_audit(struct store_tx *tx, const char *staff_id, const char *device, const char *action,
                const char *subject);

#endif
