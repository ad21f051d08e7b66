/*
 * Consistency checks as rows: each row names its subject and gives one
 * statement that recomputes stored values from their rows and selects only
 * the differences, as (id, counter, stored, rows). One statement per check
 * reads one snapshot, so a check is exact while the daemon writes (WAL).
 * A new invariant (e.g. a ledger balance = the sum of its lines) is a new row.
 */
#include "store/check.h"

#include <stdio.h>

#include "core/status.h"
#include "store/store_int.h"

/* The event counters, as defined at the top of store/signups.c. */
static const char SQL_CHECK_EVENT_COUNTERS[] =
    "WITH c AS (SELECT e.id, "
    " e.confirmed AS s1, (SELECT count(*) FROM signups s WHERE s.event_id = e.id"
    "  AND s.status = 'confirmed' AND s.source <> 'walkin') AS r1,"
    " e.waitlisted AS s2, (SELECT count(*) FROM signups s WHERE s.event_id = e.id"
    "  AND s.status = 'waitlisted') AS r2,"
    " e.checked_in AS s3, (SELECT count(*) FROM checkins k WHERE k.event_id = e.id"
    "  AND k.undone_us IS NULL) AS r3,"
    " e.walk_ins AS s4, (SELECT count(*) FROM checkins k JOIN signups s ON s.id = k.signup_id"
    "  WHERE k.event_id = e.id AND k.undone_us IS NULL AND s.source = 'walkin') AS r4"
    " FROM events e) "
    "SELECT id, 1, 'confirmed', s1, r1 FROM c WHERE s1 <> r1 "
    "UNION ALL SELECT id, 2, 'waitlisted', s2, r2 FROM c WHERE s2 <> r2 "
    "UNION ALL SELECT id, 3, 'checked_in', s3, r3 FROM c WHERE s3 <> r3 "
    "UNION ALL SELECT id, 4, 'walk_ins', s4, r4 FROM c WHERE s4 <> r4 "
    "ORDER BY 1, 2";

/* A member's cached balance against the sum of their ledger lines, and every
 * lot's points left (its delta plus the lines drawing on it), which must lie
 * between 0 and its delta: stored is the lot's delta, rows what is left. */
static const char SQL_CHECK_BALANCES[] =
    "SELECT m.id, 1, 'balance', m.balance, coalesce((SELECT sum(l.delta) FROM points_lines l "
    "WHERE l.member_id = m.id), 0) AS r FROM members m WHERE m.balance <> r ORDER BY m.id";
static const char SQL_CHECK_LOTS[] =
    "SELECT id, 1, 'lot_left', delta, left FROM (SELECT l.id, l.delta, l.delta + "
    "coalesce((SELECT sum(d.delta) FROM points_lines d WHERE d.lot_id = l.id), 0) AS left "
    "FROM points_lines l WHERE l.lot_id IS NULL) WHERE left < 0 OR left > delta "
    "UNION ALL SELECT d.id, 2, 'draws_on_no_lot', d.delta, 0 FROM points_lines d "
    "LEFT JOIN points_lines l ON l.id = d.lot_id "
    "WHERE d.lot_id IS NOT NULL AND (l.id IS NULL OR l.lot_id IS NOT NULL "
    "OR l.member_id <> d.member_id) ORDER BY 1, 2";

/* Each statement selects (id, order, counter, stored, rows) for the differences. */
static const struct check {
    const char *subject;
    const char *sql;
} checks[] = {
    {"event", SQL_CHECK_EVENT_COUNTERS},
    {"member", SQL_CHECK_BALANCES},
    {"points_line", SQL_CHECK_LOTS},
};

int store_check(struct store *s, store_check_fn fn, void *arg)
{
    int n = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        sqlite3_stmt *st = conn_stmt(&s->rd, checks[i].sql);
        if (!st)
            return KIOSKD_EIO;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_check_diff d = {.subject = checks[i].subject};
            const unsigned char *name = sqlite3_column_text(st, 2);
            d.id = sqlite3_column_int64(st, 0);
            snprintf(d.counter, sizeof d.counter, "%s", name ? (const char *)name : "?");
            d.stored = sqlite3_column_int64(st, 3);
            d.rows = sqlite3_column_int64(st, 4);
            fn(arg, &d);
            n++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_rc(rc);
    }
    return n;
}
