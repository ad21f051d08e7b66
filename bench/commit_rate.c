/*
 * commit_rate: the disk's own rate of durable single-row commits, i.e. what
 * "one commit per write" can reach on this filesystem.
 *
 *   commit_rate DB_FILE [SECONDS]
 *
 * Opens (creates) DB_FILE with journal_mode=WAL and synchronous=FULL (the
 * daemon's settings: one WAL flush per commit), then inserts one row of about
 * the size of a sign-up per transaction for SECONDS (default 3) and prints
 *
 *   commits=N seconds=S rate=R
 *
 * Run it under LD_PRELOAD=slowfsync.so to get the slowed disk's rate. The
 * file and its -wal/-shm are removed at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int must(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "commit_rate: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: commit_rate DB_FILE [SECONDS]\n");
        return 2;
    }
    const char *path = argv[1];
    double seconds = argc == 3 ? atof(argv[2]) : 3.0;
    if (seconds <= 0 || seconds > 600) {
        fprintf(stderr, "commit_rate: SECONDS must be in (0, 600]\n");
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "commit_rate: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        return 1;
    }
    must(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), "journal_mode");
    must(db, sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL), "synchronous");
    must(db,
         sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)",
                      NULL, NULL, NULL),
         "create");
    sqlite3_stmt *ins;
    must(db, sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES(?)", -1, &ins, NULL), "prepare");
    unsigned char row[300]; /* about one sign-up row with its audit and outbox lines */
    for (size_t i = 0; i < sizeof row; i++)
        row[i] = (unsigned char)(i * 131u + 7u);

    long n = 0;
    double t0 = mono(), t;
    do {
        row[0] = (unsigned char)n;
        must(db, sqlite3_bind_blob(ins, 1, row, sizeof row, SQLITE_STATIC), "bind");
        must(db, sqlite3_step(ins), "insert"); /* autocommit: one transaction, one commit */
        sqlite3_reset(ins);
        n++;
        t = mono() - t0;
    } while (t < seconds);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    printf("commits=%ld seconds=%.3f rate=%.1f\n", n, t, (double)n / t);

    size_t len = strlen(path) + 5;
    char *aux = malloc(len);
    if (aux) {
        unlink(path);
        snprintf(aux, len, "%s-wal", path);
        unlink(aux);
        snprintf(aux, len, "%s-shm", path);
        unlink(aux);
        free(aux);
    }
    return 0;
}
