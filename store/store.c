/*
 * Opening the database: folder, lock file, connections, pragmas, migrations,
 * the statement cache, health check and online backup. The writer thread is
 * in store/writer.c; the journal (outbox, audit) in store/journal.c.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/embedded.h"
#include "core/status.h"
#include "store/store_int.h"

int store_rc(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOMEM:
        return KIOSKD_ENOMEM;
    case SQLITE_FULL:
        return KIOSKD_EFULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return KIOSKD_EBUSY;
    case SQLITE_CONSTRAINT:
        return KIOSKD_ECONFLICT;
    case SQLITE_TOOBIG:
        return KIOSKD_ETOOBIG;
    case SQLITE_READONLY:
        return KIOSKD_EREADONLY;
    default:
        return KIOSKD_EIO;
    }
}

static size_t slot_of(const char *sql)
{
    uintptr_t h = (uintptr_t)sql;
    h ^= h >> 7;
    h *= 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 20) % STMT_SLOTS;
}

static void fault_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    const struct conn *c = sqlite3_user_data(ctx);
    sqlite3_result_error_code(ctx, c->fault.rc);
}

/* The failing statement of the fault hook (struct conn_fault). */
static sqlite3_stmt *conn_fault_stmt(struct conn *c)
{
    if (c->fault.rollback && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    if (!c->fault.st) {
        if (sqlite3_create_function(c->db, "kioskd_fault", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, c,
                                    fault_fn, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v3(c->db, "SELECT kioskd_fault()", -1, SQLITE_PREPARE_PERSISTENT,
                               &c->fault.st, NULL) != SQLITE_OK)
            return NULL;
    }
    sqlite3_reset(c->fault.st);
    return c->fault.st;
}

/* Whether c's -shm is read-only, looked at again when force, while it is,
 * or 20 ms after the last look (a system call per read would cost more than
 * the read). */
static bool conn_shm_read_only(struct conn *c, bool force)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (force || c->shm_ro || ms - c->shm_at_ms >= 20) {
        c->shm_at_ms = ms;
        c->shm_ro = faccessat(AT_FDCWD, c->shm, W_OK, AT_EACCESS) != 0 && errno != ENOENT;
    }
    return c->shm_ro;
}

sqlite3_stmt *conn_stmt(struct conn *c, const char *sql)
{
    if (c->in_job && sqlite3_get_autocommit(c->db))
        return NULL;
    if (c->shm && sqlite3_get_autocommit(c->db) && conn_shm_read_only(c, false))
        return NULL;
    if (c->fault.countdown > 0 && --c->fault.countdown == 0)
        return conn_fault_stmt(c);
    size_t i = slot_of(sql);
    for (size_t n = 0; n < STMT_SLOTS; n++, i = (i + 1) % STMT_SLOTS) {
        if (c->sql[i] == sql) {
            sqlite3_reset(c->stmt[i]);
            sqlite3_clear_bindings(c->stmt[i]);
            return c->stmt[i];
        }
        if (!c->sql[i]) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
                SQLITE_OK)
                return NULL;
            c->sql[i] = sql;
            c->stmt[i] = st;
            return st;
        }
    }
    /* Cache full: a programming error (raise STMT_SLOTS). */
    return NULL;
}

int conn_open(struct conn *c, const char *path, int flags, int busy_timeout_ms)
{
    memset(c, 0, sizeof *c);
    int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return store_rc(rc);
    sqlite3_busy_timeout(c->db, busy_timeout_ms);
    sqlite3_extended_result_codes(c->db, 1);
    return 0;
}

void conn_close(struct conn *c)
{
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        if (c->sql[i])
            sqlite3_finalize(c->stmt[i]);
        c->sql[i] = NULL;
    }
    sqlite3_finalize(c->fault.st);
    c->fault.st = NULL;
    if (c->db)
        sqlite3_close(c->db);
    c->db = NULL;
}

int conn_exec(struct conn *c, const char *sql)
{
    return store_rc(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

static int mkdir_parents(const char *path)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return KIOSKD_EINVAL;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return KIOSKD_EIO;
            *p = '/';
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return KIOSKD_EIO;
    return 0;
}

/* Refuses a database file (or its -wal, -shm) that group or others may read
 * or change: it holds PIN hashes and the sealed personal data. The mode is
 * read on the open descriptor; a missing file is fine (SQLite creates it
 * under the process's umask 077). */
static int check_secrecy(const char *db_path, const char *suffix, char *err, size_t errlen)
{
    char path[4200];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s%s", db_path, suffix);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "%s: path too long", db_path);
        return KIOSKD_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return KIOSKD_EIO;
    }
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        rc = KIOSKD_EIO;
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: the database must be a regular file", path);
        rc = KIOSKD_EFORBIDDEN;
    } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(err, errlen,
                 "%s: database file has mode %04o, so group or others may read it (it holds PIN "
                 "hashes); run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        rc = KIOSKD_EFORBIDDEN;
    }
    close(fd);
    return rc;
}

int store_migration_number(const char *name)
{
    int n = 0;
    for (int i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        n = n * 10 + (name[i] - '0');
    }
    return n;
}

static int schema_version_of(const struct embedded_file *set)
{
    int v = 0;
    for (const struct embedded_file *m = set; m->name; m++) {
        int n = store_migration_number(m->name);
        if (n > v)
            v = n;
    }
    return v;
}

int store_schema_version(void)
{
    return schema_version_of(embedded_migrations);
}

static int migrate(struct conn *c, const struct embedded_file *set, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);

    int latest = schema_version_of(set);
    if (version > latest) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this kioskd understands (%d); "
                 "run the kioskd that created it, or restore a backup",
                 version, latest);
        return KIOSKD_ESCHEMA;
    }
    if (version == latest)
        return 0;
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto sqlerr;
    for (const struct embedded_file *m = set; m->name; m++) {
        int n = store_migration_number(m->name);
        if (n <= version)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(c->db, (const char *)m->data, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration %s failed: %s", m->name, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return KIOSKD_EIO;
        }
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest);
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        goto sqlerr;
    }
    return 0;
sqlerr:
    snprintf(err, errlen, "database error: %s", sqlite3_errmsg(c->db));
    return store_rc(sqlite3_errcode(c->db));
}

static const char SQL_OUTBOX_PENDING[] =
    "SELECT count(*) FROM outbox WHERE seq > (SELECT CAST(value AS INTEGER) FROM meta "
    "WHERE key = 'outbox_acked_seq')";

int store_open(struct store **out, const struct store_opts *o, char *err, size_t errlen)
{
    int rc;
    char lockpath[4200];
    struct store *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    const struct embedded_file *set = o->migrations ? o->migrations : embedded_migrations;
    s->lock_fd = -1;
    s->read_only = o->read_only;
    const char *slash = strrchr(o->path, '/');
    if (!slash)
        snprintf(s->dir, sizeof s->dir, ".");
    else if (slash == o->path)
        snprintf(s->dir, sizeof s->dir, "/");
    else
        snprintf(s->dir, sizeof s->dir, "%.*s", (int)(slash - o->path), o->path);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++)
        snprintf(s->files[i], sizeof s->files[i], "%s%s", o->path, suffix[i]);
    s->queue_max = o->queue_max > 0 ? o->queue_max : 4096;
    s->notify = o->notify;
    s->notify_arg = o->notify_arg;
    pthread_mutex_init(&s->mu, NULL);
    jobq_init(&s->q, (size_t)s->queue_max);
    hist_init(&s->stats.batch_size, hist_size_bounds, hist_size_nbounds);
    hist_init(&s->stats.commit_seconds, hist_latency_bounds, hist_latency_nbounds);

    if (o->pg_url && o->pg_url[0]) {
        if ((rc = pg_store_open(s, o->pg_url, set, err, errlen)) != 0)
            goto fail;
        *out = s;
        return 0;
    }
    static const char *const parts[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if ((rc = check_secrecy(o->path, parts[i], err, errlen)) != 0)
            goto fail;
    if (!o->read_only) {
        if ((rc = mkdir_parents(o->path)) != 0) {
            snprintf(err, errlen, "%s: cannot create its folder: %s", o->path, strerror(errno));
            goto fail;
        }
        snprintf(lockpath, sizeof lockpath, "%s.lock", o->path);
        s->lock_fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->lock_fd < 0) {
            snprintf(err, errlen, "%s: cannot open: %s", lockpath, strerror(errno));
            rc = KIOSKD_EIO;
            goto fail;
        }
        if (!o->shared && flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(err, errlen, "%s is in use by another kioskd process", o->path);
            rc = KIOSKD_ELOCKED;
            goto fail;
        }
        /* a new database is created 0600 whatever the umask; SQLite gives its
         * -wal and -shm the database's mode */
        int fd = open(o->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        } else if (errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create: %s", o->path, strerror(errno));
            rc = KIOSKD_EIO;
            goto fail;
        }
        rc = conn_open(&s->wr, o->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                       o->busy_timeout_ms);
        if (rc) {
            snprintf(err, errlen, "%s: cannot open database: %s", o->path,
                     s->wr.db ? sqlite3_errmsg(s->wr.db) : kioskd_strerror(rc));
            goto fail;
        }
        char pragmas[256];
        snprintf(pragmas, sizeof pragmas,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                 "PRAGMA wal_autocheckpoint=%d; PRAGMA journal_size_limit=67108864;"
                 "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
                 o->checkpoint_pages > 0 ? o->checkpoint_pages : 2000, STORE_WRITER_CACHE_KIB);
        if ((rc = conn_exec(&s->wr, pragmas)) != 0) {
            snprintf(err, errlen, "%s: %s", o->path, sqlite3_errmsg(s->wr.db));
            goto fail;
        }
        if ((rc = migrate(&s->wr, set, err, errlen)) != 0)
            goto fail;
    }
    rc = conn_open(&s->rd, o->path, SQLITE_OPEN_READONLY, o->busy_timeout_ms);
    if (rc) {
        snprintf(err, errlen, "%s: cannot open database for reading: %s", o->path,
                 s->rd.db ? sqlite3_errmsg(s->rd.db) : kioskd_strerror(rc));
        goto fail;
    }
    if (!o->read_only)
        s->rd.shm = s->files[2];
    if ((rc = conn_exec(&s->rd, "PRAGMA foreign_keys=ON; PRAGMA cache_size=-2000;"
                                "PRAGMA temp_store=MEMORY;")) != 0) {
        snprintf(err, errlen, "%s: %s", o->path, sqlite3_errmsg(s->rd.db));
        goto fail;
    }
    if (o->read_only) {
        int v = 0;
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->rd.db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        if (v > schema_version_of(set)) {
            snprintf(err, errlen, "database schema version %d is newer than this kioskd (%d)", v,
                     schema_version_of(set));
            rc = KIOSKD_ESCHEMA;
            goto fail;
        }
    } else if (set == embedded_migrations) {
        sqlite3_stmt *st = conn_stmt(&s->rd, SQL_OUTBOX_PENDING);
        if (st && sqlite3_step(st) == SQLITE_ROW)
            s->stats.outbox_pending = sqlite3_column_int64(st, 0);
        if (st)
            sqlite3_reset(st);
    }
    *out = s;
    return 0;
fail:
    store_close(s);
    return rc ? rc : KIOSKD_EIO;
}

int store_open_reader(struct store *s, int busy_timeout_ms, struct store **out)
{
    const char *path = sqlite3_db_filename(s->rd.db, "main");
    struct store *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return KIOSKD_ENOMEM;
    r->lock_fd = -1;
    r->read_only = true;
    pthread_mutex_init(&r->mu, NULL);
    jobq_init(&r->q, 1);
    int rc = path && path[0] ? 0 : KIOSKD_EINVAL;
    if (rc == 0)
        rc = conn_open(&r->rd, path, SQLITE_OPEN_READONLY, busy_timeout_ms);
    if (rc == 0)
        rc = conn_exec(&r->rd, "PRAGMA cache_size=-2000; PRAGMA temp_store=MEMORY;");
    if (rc) {
        store_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_stop(s);
    pg_store_close(s);
    conn_close(&s->rd);
    conn_close(&s->wr);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    jobq_destroy(&s->q);
    free(s);
}

int store_ping(struct store *s)
{
    if (s->pg) /* the loop never waits on PostgreSQL: what its thread last found */
        return atomic_load(&s->pg_up) ? 0 : KIOSKD_EIO;
    sqlite3_stmt *st = conn_stmt(&s->rd, "SELECT 1");
    if (!st)
        return KIOSKD_EIO;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : store_rc(rc);
}

int store_dir_check_on(struct store *s, sqlite3 *db)
{
    int moved = 0;
    if (faccessat(AT_FDCWD, s->dir, W_OK, AT_EACCESS) != 0)
        return errno == ENOENT || errno == ENOTDIR ? KIOSKD_EMOVED : KIOSKD_EREADONLY;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
        return KIOSKD_EMOVED;
    /* the files themselves: an immutable or read-only -wal or -shm fails a
     * write halfway, and SQLite's mapped -shm faults (SIGBUS) on one */
    for (int i = 0; i < 3; i++)
        if (faccessat(AT_FDCWD, s->files[i], W_OK, AT_EACCESS) != 0 && errno != ENOENT)
            return KIOSKD_EREADONLY;
    return 0;
}

int store_dir_check(struct store *s)
{
    if (s->rd.shm)
        conn_shm_read_only(&s->rd, true); /* the loop's reads see it at once */
    return store_dir_check_on(s, s->rd.db);
}

int store_backup(const char *db_path, const char *path, char *err, size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *bk = NULL;
    char tmp[4200];
    int rc = KIOSKD_EIO;
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    if (access(db_path, R_OK) != 0) {
        snprintf(err, errlen, "%s: %s", db_path, strerror(errno));
        return KIOSKD_ENOTFOUND;
    }
    unlink(tmp);
    /* the copy holds PIN hashes: created 0600 whatever the umask, never through a link */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return KIOSKD_EIO;
    }
    close(fd);
    if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", db_path, sqlite3_errmsg(src));
        goto out;
    }
    sqlite3_busy_timeout(src, 5000);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", tmp, sqlite3_errmsg(dst));
        goto out;
    }
    bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk) {
        snprintf(err, errlen, "backup: %s", sqlite3_errmsg(dst));
        goto out;
    }
    int step;
    while ((step = sqlite3_backup_step(bk, 256)) == SQLITE_OK || step == SQLITE_BUSY ||
           step == SQLITE_LOCKED) {
        if (step != SQLITE_OK)
            sqlite3_sleep(20);
    }
    sqlite3_backup_finish(bk);
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "backup: %s", sqlite3_errstr(step));
        rc = store_rc(step);
        goto out;
    }
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "backup: %s", sqlite3_errmsg(dst));
        goto out;
    }
    sqlite3_close(dst);
    dst = NULL;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (dst)
        sqlite3_close(dst);
    if (src)
        sqlite3_close(src);
    if (rc)
        unlink(tmp);
    return rc;
}

static const char SQL_TICKET_KEYS[] =
    "SELECT public_pem FROM ticket_keys ORDER BY added_at LIMIT ?";

int store_ticket_keys(struct store *s, char **pems, int max)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_TICKET_KEYS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int(st, 1, max);
    int n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t && (pems[n] = strdup((const char *)t)) != NULL)
            n++;
    }
    sqlite3_reset(st);
    return n;
}

static const char SQL_TICKET_KEY[] = "SELECT public_pem FROM ticket_keys WHERE kid = ?";

int store_ticket_key_pem(struct store *s, const char *kid, char *pem, size_t cap)
{
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_TICKET_KEY);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = (size_t)sqlite3_column_bytes(st, 0) < cap ? 0 : KIOSKD_ETOOBIG;
        if (rc == 0)
            store_col_text(pem, cap, st, 0);
    } else {
        rc = rc == SQLITE_DONE ? KIOSKD_ENOTFOUND : store_rc(rc);
    }
    sqlite3_reset(st);
    return rc;
}

void store_col_text(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

int store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}
