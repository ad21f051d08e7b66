/*
 * The manager's summary reads (store/stats.h). Nothing here writes; the
 * audit lines of the views that show people are written by the handlers'
 * one-step jobs (store_audit_only).
 */
#include "store/stats.h"

#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_SIGNUP_SOURCES[] =
    "SELECT CASE WHEN referrer_hash IS NOT NULL THEN 'referral' ELSE source END AS origin, "
    "count(*) FROM signups WHERE event_id = ? AND status <> 'cancelled' GROUP BY origin";

int store_signup_sources(struct store *s, int64_t event_id, struct store_sources *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_SIGNUP_SOURCES);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_int64(st, 1, event_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char origin[16];
        store_col_text(origin, sizeof origin, st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        if (strcmp(origin, "referral") == 0)
            out->referral = n;
        else if (strcmp(origin, "kiosk") == 0)
            out->kiosk = n;
        else if (strcmp(origin, "bot") == 0)
            out->bot = n;
        else if (strcmp(origin, "staff") == 0)
            out->staff = n;
        else if (strcmp(origin, "walkin") == 0)
            out->walkin = n;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}
