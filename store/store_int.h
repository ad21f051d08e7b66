/* Internals shared by the store's own files; nothing outside store/ includes this. */
#ifndef KIOSKD_STORE_INT_H
#define KIOSKD_STORE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "core/rng.h"
#include "store/store.h"

#define STMT_SLOTS 128

/* Fault simulation on a connection (tests only; armed by the writer for the
 * job store_fault_job names). When countdown reaches 0 in conn_stmt, the
 * caller gets "SELECT kioskd_fault()" instead of its statement: stepping it
 * fails with rc. With rollback, conn_stmt first rolls the whole transaction
 * back, as SQLite does by itself on some errors. */
struct conn_fault {
    int countdown; /* conn_stmt calls left until the failing one; 0 = off */
    int rc;        /* SQLite result code the failing statement returns */
    bool rollback;
    sqlite3_stmt *st; /* prepared on first use */
};

/* A connection with its prepared statements, cached by the address of their
 * SQL text (statements are static strings named for what they do). */
struct conn {
    sqlite3 *db;
    const char *sql[STMT_SLOTS];
    sqlite3_stmt *stmt[STMT_SLOTS];
    bool in_job; /* a write job is running: its transaction must be open */
    struct conn_fault fault;
    /* the -shm, for the loop's reads: a read can write to it (its read mark)
     * through SQLite's mapping, which faults (SIGBUS) once the file is
     * read-only (an immutable file, a file system remounted read-only);
     * looked at every 20 ms, and at each read while it is read-only */
    const char *shm;
    int64_t shm_at_ms;
    bool shm_ro;
};

struct store_tx {
    struct store *s;
    struct conn *c;
    struct rng *rng;
    int64_t now_us;
    int outbox_added;    /* entries this job appended */
    int outbox_acked;    /* entries this job marked as received by HQ */
    struct pgc *pg;      /* PostgreSQL (store/pg.c): the job runs there, c is NULL */
    bool no_retry;       /* PostgreSQL: the job cannot be run again after a deadlock */
    bool changes_locked; /* PostgreSQL: hqdb_lock_changes was taken in this transaction */
};

struct store {
    struct conn rd; /* the loop's */
    struct conn wr; /* the writer's */
    int lock_fd;
    bool read_only;
    char dir[4096];      /* the database's folder, as configured */
    char files[3][4100]; /* the database, its -wal and its -shm */
    int queue_max;

    pthread_t thread;
    bool running;
    struct jobq q;      /* submitted -> taken -> finished -> completed */
    uint64_t completed; /* jobs completed (the loop's: store_changes) */
    pthread_mutex_t mu; /* stats and fault hooks */
    struct store_stats stats;
    int fault_rc, fault_count;               /* store_fault_commit */
    int fault_job, fault_stmt, fault_job_rc; /* store_fault_job; fault_job 0 = off */
    bool fault_rollback;
    bool committing;                /* the writer's own COMMIT is running (commit hook) */
    _Atomic int64_t clock_shift_us; /* store_clock_shift */

    void (*notify)(void *arg);
    void *notify_arg;

    /* PostgreSQL instead of SQLite (store_opts.pg_url; store/pg.c): jobs run
     * on the PostgreSQL thread's connection; rd and wr stay closed. */
    struct pgc *pg;
    _Atomic bool pg_up; /* the last job found the database answering */
};

/* The writer's clocks (store/writer.c): µs since the epoch, and monotonic seconds. */
int64_t store_now_us(void);
double store_mono_seconds(void);
/* Starts a storage thread: blocks every signal, seeds rng; 0 or a KIOSKD_E* code. */
int store_thread_begin(struct rng *rng);
/* The job a queue node belongs to. */
struct store_job *store_job_of(struct jobq_node *n);
/* The number of a migration file NNNN_name.sql, or -1. */
int store_migration_number(const char *name);

struct embedded_file;
/* Connects to url and applies the migrations set (translated); 0 or a
 * KIOSKD_E* code with err. */
int pg_store_open(struct store *s, const char *url, const struct embedded_file *set, char *err,
                  size_t errlen);
/* The PostgreSQL thread (store_start); runs each job in its own transaction. */
void *pg_main(void *arg);
/* Closes the connection; accepts a store without one. */
void pg_store_close(struct store *s);

/* The writer connection's page cache, KiB (PRAGMA cache_size=-N). */
#define STORE_WRITER_CACHE_KIB 4000

/* Returns the cached statement for sql on c (reset, bindings cleared), or NULL;
 * NULL too while a job runs on c and its transaction is gone (never run a
 * job's statement in autocommit mode). */
sqlite3_stmt *conn_stmt(struct conn *c, const char *sql);
/* Maps a SQLite result code to a KIOSKD_E* status. */
int store_rc(int sqlite_rc);
/* store_dir_check on connection db (the caller's thread's own). */
int store_dir_check_on(struct store *s, sqlite3 *db);
int conn_open(struct conn *c, const char *path, int flags, int busy_timeout_ms);
void conn_close(struct conn *c);
int conn_exec(struct conn *c, const char *sql);

/* Copies text column col of st into dst (n bytes; "" for NULL). */
void store_col_text(char *dst, size_t n, sqlite3_stmt *st, int col);
/* Steps a statement that returns no row and resets it: 0 or a KIOSKD_E* code. */
int store_step_done(sqlite3_stmt *st);
/* Writes a job's audit line (subject "kind:id") and its outbox entry; takes data. */
int store_journal(struct store_tx *tx, const char *staff_id, const char *device, const char *action,
                  const char *subject_kind, int64_t subject_id, const char *outbox_kind,
                  json_t *data);

/* --- shared by store/signups.c and store/checkins.c (writer thread) --- */

/* The member_no of the oldest member with this phone hash into out ("" when
 * none): sign-ups and walk-ins are linked to it. Returns 0 or a KIOSKD_E* code. */
int member_no_of_phone(struct store_tx *tx, const unsigned char hash[32], char out[33]);

/* Adds to the counters of an event, in the job's savepoint. */
int event_counts(struct store_tx *tx, int64_t event_id, int confirmed, int waitlisted,
                 int checked_in, int walk_ins);

struct store_person;
/* The fields of a sign-up row as written by a new or revived sign-up. */
struct signup_row {
    int64_t event_id;
    const struct store_person *who;
    const char *member_no;              /* NULL: none */
    const unsigned char *referrer_hash; /* NULL: none */
    const char *source, *status, *consent_version, *kid;
    int64_t now, issued_at;
};

/* Inserts the sign-up (existing == 0) or revives the cancelled one `existing`
 * with a new short code: *id gets its id, code its short code. */
int signup_write(struct store_tx *tx, int64_t existing, const struct signup_row *w, int64_t *id,
                 char code[7]);
/* The outbox data of a sign-up written as w (kind "signup"): ids, status,
 * masks, the ticket's kid and issue time, and the guest's name and phone as
 * they are stored (sealed with the branch's key, base64 "name_enc" and
 * "phone_enc"): daemon/sync.c opens them only to push them to HQ. New
 * reference or NULL (out of memory). */
json_t *signup_outbox_data(const struct signup_row *w, int64_t id, const char *short_code);
/* Sets a sign-up's status (cancelled_at 0: none). */
int signup_set_status(struct store_tx *tx, int64_t id, const char *status, int64_t cancelled_at);

/* The local id (0: none here) of the sign-up that a ticket of another
 * device's key kid names as origin_id (store/sync.c); KIOSKD_EREFUSED when
 * that ticket, issued at issued_at, was revoked; or a store error.
 * *ticket_event (in: the event id the ticket names) becomes the local
 * sign-up's event id when its origin says the ticket names the event so
 * (HQ's ticket for an event not linked yet: 0). */
int signup_of_ticket_elsewhere(struct store_tx *tx, const char *kid, int64_t origin_id,
                               int64_t issued_at, int64_t *local, int64_t *ticket_event);
/* The sign-up id that local sign-up id's ticket names: its own, or its id
 * where it was taken for a sign-up taken elsewhere. 0 or a store error. */
int signup_ticket_id(struct store_tx *tx, int64_t id, int64_t *ticket_id);
/* Compares digest with the one kept for the ticket of sign-up id issued at
 * issued_at for event_id under key kid (constant time): 0 when equal,
 * KIOSKD_EBADSIG when not, KIOSKD_ENOTFOUND when none is kept for such a
 * ticket (no such sign-up, another issue time or key, or no digest), or a
 * store error. */
int signup_digest_check(struct store_tx *tx, int64_t id, int64_t event_id, int64_t issued_at,
                        const char *kid, const unsigned char *digest);
/* The check-in in force of a sign-up. */
struct checkin_in_force {
    int64_t id, at_us;
    char device[65];
};
/* Returns 1 and fills out when signup_id has a check-in in force, 0 when not,
 * or a KIOSKD_E* code. */
int checkin_in_force(struct store_tx *tx, int64_t signup_id, struct checkin_in_force *out);

/* A sign-up as the check-in and cancel jobs see it (id 0: none found). */
struct found {
    int64_t id, event_id, issued_at;
    char status[12], name_mask[64], source[8], kid[16], short_code[7];
    unsigned char name_hash[32];
    bool has_name_hash; /* false for rows from before migration 0005 */
};
/* Reads sign-up id, or the sign-up of a phone's hash for an event, into f
 * (writer thread). 0, KIOSKD_ENOTFOUND or a store error. */
int signup_find_by_id(struct store_tx *tx, int64_t id, struct found *f);
int signup_find_by_phone(struct store_tx *tx, int64_t event_id, const unsigned char *hash,
                         struct found *f);
/* The same by an event's 6-digit short code. */
int signup_find_by_code(struct store_tx *tx, int64_t event_id, const char *code, struct found *f);
/* The ticket rule, the one place that decides whether a ticket is valid: a
 * ticket for ticket_event issued at ticket_issued is valid while its sign-up
 * f exists for that event, is not cancelled and still has that issue time,
 * and its event (event_status, NULL when the caller checks the event itself)
 * is not cancelled. Returns WHY_NONE or the rule it breaks. */
enum store_why ticket_rule(const struct found *f, const char *event_status, int64_t ticket_event,
                           int64_t ticket_issued);

/* --- the ledger, for the jobs of other store files (store/ledger.c) --- */

struct points_rules;
/* An earning: a new lot of points. */
struct ledger_earning {
    int64_t member_id, delta;      /* delta > 0 */
    const char *reason;            /* checkin, referral, new_business */
    int64_t signup_id, upgrade_id; /* 0: none */
    const char *product;           /* new_business: the product and its coefficient */
    int64_t coef_milli;
    int expiry_years;
    const struct store_actor *by;
};
/* Appends the earning (expiring per expiry_years from the job's time), adds it
 * to the member's balance and journals it (audit and outbox "points").
 * *line_id (may be NULL) gets the line's id. Returns 0 or a KIOSKD_E* code. */
int ledger_earn(struct store_tx *tx, const struct ledger_earning *e, int64_t *line_id);

/* What a check-in earned, and the guest's member (member_id 0: none). */
struct ledger_checkin_earned {
    int64_t member_id, checkin_points, referral_points;
};
/* Earns the check-in bonus for the member whose phone signed up, and the
 * referral bonus for the member whose phone was named as referrer (never the
 * guest's own member; once per referred guest's phone), each at most once per
 * sign-up net of reversals. Returns 0 or a KIOSKD_E* code. */
int ledger_checkin_earn(struct store_tx *tx, int64_t signup_id, const struct points_rules *r,
                        const struct store_actor *by, struct ledger_checkin_earned *out);
/* The member whose phone signed up (*member_id 0: none). 0 or a KIOSKD_E* code. */
int ledger_member_of_signup(struct store_tx *tx, int64_t signup_id, int64_t *member_id);
/* Takes back what the sign-up's check-in earned (reversal lines, from the
 * earned lot first, then oldest expiry first), less what of it has expired. Returns 0; 1 when a
 * member's balance is short of it (then nothing is written); or a KIOSKD_E* code. */
int ledger_checkin_reverse(struct store_tx *tx, int64_t signup_id, const struct store_actor *by);

/* A points line earned at HQ (docs/sync.md): a lot of reason 'hq' of points
 * > 0 for member_id, dated at (unix seconds, HQ's time; it expires per
 * expiry_years from then), with HQ's line id and reason text. Merged by id:
 * *added is false, and nothing is written, when a line of that id is in the
 * ledger already. Audited, not journalled (HQ has it). 0 or a KIOSKD_E* code. */
int ledger_hq_merge(struct store_tx *tx, int64_t member_id, const char *hq_id, int64_t points,
                    const char *note, int64_t at, int expiry_years, bool *added);

/* Gives the event's first waitlisted sign-up a place (journalled); *promoted
 * gets its id, 0 when the waitlist is empty. The caller checks there is room.
 * Returns 0 or a KIOSKD_E* code. (store/signups.c) */
int signup_promote(struct store_tx *tx, int64_t event_id, int64_t *promoted);

/* A member as the writer's jobs need it: 0, KIOSKD_ENOTFOUND or an error. */
struct member_row {
    int64_t id, balance;
    char member_no[33], tier[16], trial_tier[16], trial_until[11], household[65];
};
int member_row_by_no(struct store_tx *tx, const char *member_no, struct member_row *out);
int member_row_by_id(struct store_tx *tx, int64_t id, struct member_row *out);

struct store_member;
struct store_product;
/* Inserts or updates (by member_no, keeping what is the branch's own: openid,
 * opt-out, balance) one member; *added says which. store/members.c */
int member_write(struct store_tx *tx, const struct store_member *m, int64_t now, bool *added);
/* The same for a product, by code. store/products.c */
int product_write(struct store_tx *tx, const struct store_product *p, int64_t now, bool *added);

struct store_event;
/* Reads event id through connection c (either thread's). */
int store_event_read(struct conn *c, int64_t id, struct store_event *out);

#endif
