/* The chat bot's jobs at HQ (store/hqbot.h), on SQLite and PostgreSQL
 * through store/hqdb.h; the tables are store/hq_migrations/0005_bot.sql (and
 * the events of 0006, store/hqevents.h). */
#include "store/hqbot.h"

#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/mask.h"
#include "core/status.h"
#include "store/hqdb.h"
#include "store/hqevents.h"
#include "store/store_int.h"

#define DELIVERY_KEEP (24 * 3600) /* seconds a delivery's reply is kept */

static const char SQL_DELIVERY_CLAIM[] =
    "INSERT INTO hq_bot_deliveries(key_hash, reply, at) VALUES (?1, '', ?2) "
    "ON CONFLICT DO NOTHING";
static const char SQL_DELIVERY_GET[] = "SELECT reply FROM hq_bot_deliveries WHERE key_hash = ?1";
static const char SQL_DELIVERY_SET[] =
    "UPDATE hq_bot_deliveries SET reply = ?2 WHERE key_hash = ?1";
static const char SQL_DELIVERY_PRUNE[] = "DELETE FROM hq_bot_deliveries WHERE at < ?1";
static const char SQL_BINDING[] = "SELECT member_no, failures, locked_until FROM hq_bot_bindings "
                                  "WHERE identity_hash = ?1";
static const char SQL_BINDING_PUT[] =
    "INSERT INTO hq_bot_bindings(identity_hash, member_no, failures, locked_until, at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (identity_hash) DO UPDATE SET "
    "member_no = excluded.member_no, failures = excluded.failures, "
    "locked_until = excluded.locked_until, at = excluded.at";
static const char SQL_CODE_GET[] =
    "SELECT member_no FROM hq_bot_codes WHERE code_hash = ?1 AND expires_at >= ?2";
static const char SQL_CODE_DELETE[] = "DELETE FROM hq_bot_codes WHERE code_hash = ?1";
static const char SQL_CODES_LIVE[] =
    "SELECT DISTINCT member_no FROM hq_bot_codes WHERE expires_at >= ?1 LIMIT 256";
static const char SQL_CODES_OF_MEMBER[] = "DELETE FROM hq_bot_codes WHERE member_no = ?1";
static const char SQL_CODES_DROP[] =
    "DELETE FROM hq_bot_codes WHERE member_no = ?1 OR expires_at < ?2";
static const char SQL_CODE_INSERT[] =
    "INSERT INTO hq_bot_codes(code_hash, member_no, expires_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING";
static const char SQL_MEMBER[] = "SELECT data FROM hq_changes WHERE kind = 'member' AND key = ?1";
/* the points lines of members (hq_bot_lines), kept up to date by cursors */
#define LINES_BATCH 1000
#define CHANGES_SOURCE "*changes" /* not a device id */
static const char SQL_CURSOR_GET[] = "SELECT through FROM hq_bot_cursors WHERE source = ?1";
static const char SQL_CURSOR_PUT[] =
    "INSERT INTO hq_bot_cursors(source, through) VALUES (?1, ?2) ON CONFLICT (source) DO UPDATE "
    "SET through = excluded.through WHERE hq_bot_cursors.through < excluded.through";
static const char SQL_CHANGES_SINCE[] =
    "SELECT seq, kind, data FROM hq_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";
static const char SQL_DEVICES_BEHIND[] =
    "SELECT d.device, d.acked_through, coalesce(c.through, 0) FROM hq_devices d "
    "LEFT JOIN hq_bot_cursors c ON c.source = d.device "
    "WHERE d.acked_through > coalesce(c.through, 0) ORDER BY d.device";
static const char SQL_ENTRIES_RANGE[] =
    "SELECT seq, data FROM hq_entries WHERE device = ?1 AND seq > ?2 AND seq <= ?3 "
    "AND kind = 'points' ORDER BY seq LIMIT ?4";
static const char SQL_LINE_PUT[] =
    "INSERT INTO hq_bot_lines(line_key, member_no, points) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (line_key) DO UPDATE SET member_no = excluded.member_no, "
    "points = excluded.points";
static const char SQL_MEMBER_POINTS[] =
    "SELECT coalesce(sum(points), 0) FROM hq_bot_lines WHERE member_no = ?1";
static const char SQL_EVENT_NO_PUT[] =
    "INSERT INTO hq_bot_events(event_key) VALUES (?1) ON CONFLICT DO NOTHING";
static const char SQL_EVENT_NO_GET[] = "SELECT no FROM hq_bot_events WHERE event_key = ?1";
static const char SQL_EVENT_OF_NO[] = "SELECT event_key FROM hq_bot_events WHERE no = ?1";

static int64_t now_of(struct store_tx *tx)
{
    return store_tx_now(tx) / 1000000;
}

/* Steps a statement with one text column into out ("" when no row). */
static int one_text(struct hqdb_stmt *st, char *out, size_t n)
{
    int rc = hqdb_step(st);
    out[0] = '\0';
    if (rc == HQDB_ROW)
        snprintf(out, n, "%s", hqdb_column_text(st, 0));
    hqdb_reset(st);
    return rc == HQDB_ROW || rc == HQDB_DONE ? 0 : rc;
}

/* --- the binding --- */

struct binding {
    char member_no[33]; /* "" : not bound */
    int64_t failures, locked_until;
};

static int binding_get(struct store_tx *tx, const char *identity, struct binding *b)
{
    struct hqdb_stmt st;
    memset(b, 0, sizeof *b);
    if (hqdb_prepare(tx, &st, SQL_BINDING) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, identity);
    int rc = hqdb_step(&st);
    if (rc == HQDB_ROW) {
        snprintf(b->member_no, sizeof b->member_no, "%s", hqdb_column_text(&st, 0));
        b->failures = hqdb_column_int64(&st, 1);
        b->locked_until = hqdb_column_int64(&st, 2);
    }
    hqdb_reset(&st);
    return rc == HQDB_ROW || rc == HQDB_DONE ? 0 : rc;
}

static int binding_put(struct store_tx *tx, const char *identity, const struct binding *b)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_BINDING_PUT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, identity);
    if (b->member_no[0])
        hqdb_bind_text(&st, 2, b->member_no);
    else
        hqdb_bind_null(&st, 2);
    hqdb_bind_int64(&st, 3, b->failures);
    hqdb_bind_int64(&st, 4, b->locked_until);
    hqdb_bind_int64(&st, 5, now_of(tx));
    return hqdb_exec(&st, NULL);
}

/* --- members and points --- */

/* The member's data with its personal fields unsealed (a new reference), or
 * NULL with *rc 0 when HQ has no such member. */
static json_t *member_get(struct store_tx *tx, const struct store_hq_crypto *crypto,
                          const char *member_no, int *rc)
{
    struct hqdb_stmt st;
    json_t *data = NULL;
    if (hqdb_prepare(tx, &st, SQL_MEMBER) != 0) {
        *rc = KIOSKD_EIO;
        return NULL;
    }
    hqdb_bind_text(&st, 1, member_no);
    *rc = hqdb_step(&st);
    if (*rc == HQDB_ROW && !(data = hqdb_column_json(&st, 0)))
        *rc = KIOSKD_EIO;
    hqdb_reset(&st);
    if (*rc == HQDB_DONE || *rc == HQDB_ROW)
        *rc = 0;
    if (data && *rc == 0 && (*rc = crypto->unseal(crypto->arg, "member", data)) != 0) {
        json_decref(data);
        data = NULL;
    }
    return data;
}

/* Wipes and frees a member's unsealed data. */
static void member_free(json_t *m)
{
    const char *fields[] = {"name", "phone"};
    for (size_t i = 0; m && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(m, fields[i]);
        if (json_is_string(v))
            mbedtls_platform_zeroize((void *)json_string_value(v), json_string_length(v));
    }
    json_decref(m);
}

/* One points line to index. */
struct line {
    char key[HQ_DEVICE_MAX + 48];
    char member_no[33];
    int64_t points;
};

/* The lines read from one batch of rows, written at its end. */
struct lines {
    struct line *v;
    size_t n, cap;
};

/* Adds a line of member no (a string of at most 32 bytes) to ls. */
static int line_add(struct lines *ls, const char *source, json_t *id, json_t *no, int64_t points)
{
    if (!json_is_string(no) || json_string_length(no) > 32 ||
        !(json_is_integer(id) || json_is_string(id)))
        return 0; /* not a line: a malformed entry counts for nobody */
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? 2 * ls->cap : LINES_BATCH;
        struct line *more = realloc(ls->v, cap * sizeof *more);
        if (!more)
            return KIOSKD_ENOMEM;
        ls->v = more;
        ls->cap = cap;
    }
    struct line *l = &ls->v[ls->n++];
    if (json_is_integer(id))
        snprintf(l->key, sizeof l->key, "%s/%" JSON_INTEGER_FORMAT, source, json_integer_value(id));
    else
        snprintf(l->key, sizeof l->key, "%s/%.40s", source, json_string_value(id));
    snprintf(l->member_no, sizeof l->member_no, "%s", json_string_value(no));
    l->points = points;
    return 0;
}

static int lines_put(struct store_tx *tx, struct lines *ls)
{
    struct hqdb_stmt st;
    int rc = 0;
    for (size_t i = 0; i < ls->n && rc == 0; i++) {
        if (hqdb_prepare(tx, &st, SQL_LINE_PUT) != 0)
            return KIOSKD_EIO;
        hqdb_bind_text(&st, 1, ls->v[i].key);
        hqdb_bind_text(&st, 2, ls->v[i].member_no);
        hqdb_bind_int64(&st, 3, ls->v[i].points);
        rc = hqdb_defer(&st, NULL);
    }
    ls->n = 0;
    return rc ? rc : hqdb_flush(tx);
}

static int cursor_put(struct store_tx *tx, const char *source, int64_t through)
{
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_CURSOR_PUT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, source);
    hqdb_bind_int64(&st, 2, through);
    return hqdb_exec(&st, NULL);
}

/* Rows to index in batches: of hq_changes after a seq (device NULL; ?1 the
 * seq, ?2 the batch), or of a device's entries (?1 device, ?2 after, ?3 to,
 * ?4 the batch); the first column is the seq, row() reads the lines of one. */
struct scan {
    const char *sql;
    const char *device;
    int64_t to;
    int (*row)(struct hqdb_stmt *st, struct lines *ls, const char *device);
};

/* Indexes the lines of sc's rows after *after, which moves to the last one. */
static int scan_run(struct store_tx *tx, struct lines *ls, const struct scan *sc, int64_t *after)
{
    struct hqdb_stmt st;
    int64_t rows;
    int rc;
    do {
        if (hqdb_prepare(tx, &st, sc->sql) != 0)
            return KIOSKD_EIO;
        int p = 1;
        if (sc->device)
            hqdb_bind_text(&st, p++, sc->device);
        hqdb_bind_int64(&st, p++, *after);
        if (sc->device)
            hqdb_bind_int64(&st, p++, sc->to);
        hqdb_bind_int64(&st, p, LINES_BATCH);
        for (rows = 0; (rc = hqdb_step(&st)) == HQDB_ROW; rows++) {
            *after = hqdb_column_int64(&st, 0);
            if ((rc = sc->row(&st, ls, sc->device)) != 0)
                break;
        }
        hqdb_reset(&st);
        if (rc != HQDB_DONE || (rc = lines_put(tx, ls)) != 0)
            return rc;
    } while (rows == LINES_BATCH);
    return 0;
}

/* A change: an HQ balance line (kind balance) or nothing to index. */
static int change_row(struct hqdb_stmt *st, struct lines *ls, const char *device)
{
    (void)device;
    if (strcmp(hqdb_column_text(st, 1), "balance") != 0)
        return 0;
    json_t *d = hqdb_column_json(st, 2);
    int rc = line_add(ls, "hq", json_object_get(d, "id"), json_object_get(d, "member_no"),
                      (int64_t)json_integer_value(json_object_get(d, "points")));
    json_decref(d);
    return rc;
}

/* A device's points entry: its lines. */
static int entry_row(struct hqdb_stmt *st, struct lines *ls, const char *device)
{
    json_t *d = hqdb_column_json(st, 1), *l;
    size_t i;
    int rc = 0;
    json_array_foreach(json_object_get(d, "lines"), i, l)
    {
        if (rc == 0)
            rc = line_add(ls, device, json_object_get(l, "id"), json_object_get(l, "member_no"),
                          (int64_t)json_integer_value(json_object_get(l, "delta")));
    }
    json_decref(d);
    return rc;
}

/* Indexes HQ's balance lines changed since the cursor of '*changes'. */
static int lines_of_changes(struct store_tx *tx, struct lines *ls)
{
    static const struct scan sc = {.sql = SQL_CHANGES_SINCE, .row = change_row};
    struct hqdb_stmt st;
    int64_t through = 0, was;
    int rc;
    if (hqdb_prepare(tx, &st, SQL_CURSOR_GET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, CHANGES_SOURCE);
    if ((rc = hqdb_step(&st)) == HQDB_ROW)
        through = hqdb_column_int64(&st, 0);
    hqdb_reset(&st);
    if (rc != HQDB_ROW && rc != HQDB_DONE)
        return rc;
    was = through;
    if ((rc = scan_run(tx, ls, &sc, &through)) != 0)
        return rc;
    return through > was ? cursor_put(tx, CHANGES_SOURCE, through) : 0; /* reads write nothing */
}

/* Indexes the lines of device's points entries of seq from..to. */
static int lines_of_device(struct store_tx *tx, struct lines *ls, const char *device, int64_t from,
                           int64_t to)
{
    const struct scan sc = {.sql = SQL_ENTRIES_RANGE, .device = device, .to = to, .row = entry_row};
    int rc = scan_run(tx, ls, &sc, &from);
    return rc ? rc : cursor_put(tx, device, to);
}

/* Brings hq_bot_lines up to date with what HQ has stored. */
static int lines_update(struct store_tx *tx)
{
    struct lines ls = {0};
    struct behind {
        char device[HQ_DEVICE_MAX + 1];
        int64_t from, to;
    } *bh = NULL;
    size_t n = 0, cap = 0;
    struct hqdb_stmt st;
    int rc = lines_of_changes(tx, &ls);
    if (rc || hqdb_prepare(tx, &st, SQL_DEVICES_BEHIND) != 0) {
        free(ls.v);
        return rc ? rc : KIOSKD_EIO;
    }
    while ((rc = hqdb_step(&st)) == HQDB_ROW) {
        if (n == cap) {
            struct behind *more = realloc(bh, (cap = cap ? 2 * cap : 16) * sizeof *bh);
            if (!more) {
                rc = KIOSKD_ENOMEM;
                break;
            }
            bh = more;
        }
        snprintf(bh[n].device, sizeof bh[n].device, "%s", hqdb_column_text(&st, 0));
        bh[n].to = hqdb_column_int64(&st, 1);
        bh[n++].from = hqdb_column_int64(&st, 2);
    }
    hqdb_reset(&st);
    if (rc == HQDB_DONE)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = lines_of_device(tx, &ls, bh[i].device, bh[i].from, bh[i].to);
    free(bh);
    free(ls.v);
    return rc;
}

static int do_points(struct store_tx *tx, struct store_hq_bot *j)
{
    int rc = 0;
    json_t *m = member_get(tx, j->crypto, j->member_no, &rc);
    if (!m)
        return rc ? rc : KIOSKD_ENOTFOUND;
    const char *name = json_string_value(json_object_get(m, "name"));
    mask_name(name ? name : "", j->name_masked, sizeof j->name_masked);
    json_t *aum = json_object_get(m, "aum_fen");
    j->aum_fen = json_is_integer(aum) ? (int64_t)json_integer_value(aum) : -1;
    member_free(m);
    struct hqdb_stmt st;
    if ((rc = lines_update(tx)) != 0)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_MEMBER_POINTS) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->member_no);
    rc = hqdb_step(&st);
    j->points = rc == HQDB_ROW ? hqdb_column_int64(&st, 0) : 0;
    hqdb_reset(&st);
    return rc == HQDB_ROW ? 0 : rc == HQDB_DONE ? KIOSKD_EIO : rc;
}

/* --- events --- */

/* The bot's number of the event of key into *no. */
static int event_no(struct store_tx *tx, const char *key, int64_t *no)
{
    struct hqdb_stmt st;
    int rc;
    if (hqdb_prepare(tx, &st, SQL_EVENT_NO_PUT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, key);
    if ((rc = hqdb_exec(&st, NULL)) != 0)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_EVENT_NO_GET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, key);
    rc = hqdb_step(&st);
    if (rc == HQDB_ROW)
        *no = hqdb_column_int64(&st, 0);
    hqdb_reset(&st);
    return rc == HQDB_ROW ? 0 : rc == HQDB_DONE ? KIOSKD_EIO : rc;
}

/* The event of the bot's listing of e. */
static struct hq_bot_event bot_event(const struct hq_event *e)
{
    struct hq_bot_event b = {.event_id = e->event_id, .starts_at = e->starts_at};
    snprintf(b.device, sizeof b.device, "%s", e->device);
    snprintf(b.title, sizeof b.title, "%s", e->title);
    snprintf(b.venue, sizeof b.venue, "%s", e->venue);
    return b;
}

static int do_events(struct store_tx *tx, struct store_hq_bot *j)
{
    struct hq_event rows[HQ_BOT_LISTED];
    size_t n;
    int rc = hqevents_current(tx, now_of(tx), rows, HQ_BOT_LISTED, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        j->events[j->nevents] = bot_event(&rows[i]);
        rc = event_no(tx, rows[i].key, &j->events[j->nevents++].no);
    }
    return rc;
}

/* --- 报名 N --- */

static int do_signup(struct store_tx *tx, struct store_hq_bot *j)
{
    struct hqdb_stmt st;
    char key[HQ_EVENT_KEY_MAX + 1];
    struct hq_event ev = {.event_id = 0};
    bool found = false;
    int rc;
    if (hqdb_prepare(tx, &st, SQL_EVENT_OF_NO) != 0)
        return KIOSKD_EIO;
    hqdb_bind_int64(&st, 1, j->event_no);
    if ((rc = one_text(&st, key, sizeof key)) != 0 ||
        (key[0] && (rc = hqevents_get(tx, key, now_of(tx), &ev, &found)) != 0))
        return rc;
    if (!found) {
        j->outcome = HQ_BOT_NO_EVENT;
        return 0;
    }
    j->events[0] = bot_event(&ev);
    j->events[0].no = j->event_no;
    j->nevents = 1;
    json_t *m = member_get(tx, j->crypto, j->member_no, &rc);
    if (!m)
        return rc ? rc : KIOSKD_ENOTFOUND;
    struct store_hq_signup *s = j->signup;
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *phone = json_string_value(json_object_get(m, "phone"));
    if (!name || !phone || strlen(phone) != 11) {
        member_free(m);
        return KIOSKD_EIO;
    }
    if (ev.event_id) {
        snprintf(s->event_device, sizeof s->event_device, "%s", ev.device);
        s->event_id = ev.event_id;
        s->event_key[0] = '\0';
    } else { /* imported at HQ, not linked at its branch yet */
        s->event_device[0] = '\0';
        s->event_id = 0;
        snprintf(s->event_key, sizeof s->event_key, "%s", ev.key);
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->phone, sizeof s->phone, "%s", phone);
    mask_name(name, s->name_masked, sizeof s->name_masked);
    snprintf(s->phone_last4, sizeof s->phone_last4, "%s", phone + 7);
    member_free(m);
    s->issued_at = now_of(tx);
    s->signup_id = 0;
    s->merged_into[0] = '\0';
    rc = store_hq_signup_tx(tx, s);
    mbedtls_platform_zeroize(s->name, sizeof s->name);
    mbedtls_platform_zeroize(s->phone, sizeof s->phone);
    if (rc == KIOSKD_ENOTFOUND || rc == KIOSKD_EGONE) { /* not linked yet, or cancelled at HQ */
        j->outcome = HQ_BOT_NO_EVENT;
        return 0;
    }
    return rc;
}

/* --- 绑定 --- */

/* Burns the live codes of the members whose phone is j->phone (B3). The
 * live codes are few (10 minutes each, given by staff one at a time). */
static int codes_burn(struct store_tx *tx, const struct store_hq_bot *j)
{
    char(*members)[33] = calloc(256, sizeof *members);
    struct hqdb_stmt st;
    size_t n = 0;
    int rc;
    if (!members)
        return KIOSKD_ENOMEM;
    if (hqdb_prepare(tx, &st, SQL_CODES_LIVE) != 0) {
        free(members);
        return KIOSKD_EIO;
    }
    hqdb_bind_int64(&st, 1, now_of(tx));
    while ((rc = hqdb_step(&st)) == HQDB_ROW && n < 256)
        snprintf(members[n++], sizeof members[0], "%s", hqdb_column_text(&st, 0));
    hqdb_reset(&st);
    rc = rc == HQDB_ROW || rc == HQDB_DONE ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *m = member_get(tx, j->crypto, members[i], &rc);
        const char *phone = json_string_value(json_object_get(m, "phone"));
        bool same = phone && strcmp(phone, j->phone) == 0;
        member_free(m);
        if (rc == 0 && same) {
            if (hqdb_prepare(tx, &st, SQL_CODES_OF_MEMBER) != 0)
                rc = KIOSKD_EIO;
            else {
                hqdb_bind_text(&st, 1, members[i]);
                rc = hqdb_exec(&st, NULL);
            }
        }
    }
    free(members);
    return rc;
}

/* Wrong codes naming one phone, from any senders, before its live codes are
 * burnt (B3): above one sender's [bot] bind_failures, so that a sender's own
 * mistakes lock that sender first. */
#define PHONE_CODE_ATTEMPTS 10

/* Counts a wrong code against the phone it named, whoever sent it; burns
 * that phone's live codes at PHONE_CODE_ATTEMPTS (B3). */
static int phone_failed(struct store_tx *tx, const struct store_hq_bot *j)
{
    struct binding p;
    int rc = binding_get(tx, j->phone_key, &p);
    if (rc)
        return rc;
    if (++p.failures >= PHONE_CODE_ATTEMPTS) {
        p.failures = 0;
        if ((rc = codes_burn(tx, j)) != 0)
            return rc;
    }
    return binding_put(tx, j->phone_key, &p);
}

static int do_bind(struct store_tx *tx, struct store_hq_bot *j, struct binding *b)
{
    int64_t now = now_of(tx);
    char member_no[33];
    struct hqdb_stmt st;
    int rc;
    if (b->locked_until > now) {
        j->outcome = HQ_BOT_LOCKED;
        j->locked_until = b->locked_until;
        return 0;
    }
    if (hqdb_prepare(tx, &st, SQL_CODE_GET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->code_hash);
    hqdb_bind_int64(&st, 2, now);
    if ((rc = one_text(&st, member_no, sizeof member_no)) != 0)
        return rc;
    bool ok = false;
    if (member_no[0]) {
        json_t *m = member_get(tx, j->crypto, member_no, &rc);
        const char *phone = json_string_value(json_object_get(m, "phone"));
        ok = phone && strcmp(phone, j->phone) == 0;
        member_free(m);
        if (rc)
            return rc;
    }
    if (!ok) {
        j->outcome = HQ_BOT_BAD_CODE;
        if ((rc = phone_failed(tx, j)) != 0)
            return rc;
        if (++b->failures >= j->max_failures) {
            b->failures = 0;
            b->locked_until = now + j->lock_seconds;
            j->outcome = HQ_BOT_LOCKED;
            j->locked_until = b->locked_until;
        }
        return binding_put(tx, j->identity, b);
    }
    if (hqdb_prepare(tx, &st, SQL_CODE_DELETE) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->code_hash);
    if ((rc = hqdb_exec(&st, NULL)) != 0)
        return rc;
    snprintf(b->member_no, sizeof b->member_no, "%s", member_no);
    snprintf(j->member_no, sizeof j->member_no, "%s", member_no);
    b->failures = b->locked_until = 0;
    struct binding p = {.member_no = ""}; /* the phone's wrong codes start again */
    if ((rc = binding_put(tx, j->phone_key, &p)) != 0)
        return rc;
    return binding_put(tx, j->identity, b);
}

/* --- the message --- */

/* Claims the delivery key; *seen when it was answered before (j->reply is
 * that answer). */
static int delivery_claim(struct store_tx *tx, struct store_hq_bot *j, bool *seen)
{
    struct hqdb_stmt st;
    int64_t changes = 0;
    int rc;
    *seen = false;
    if (hqdb_prepare(tx, &st, SQL_DELIVERY_PRUNE) != 0)
        return KIOSKD_EIO;
    hqdb_bind_int64(&st, 1, now_of(tx) - DELIVERY_KEEP);
    if ((rc = hqdb_exec(&st, NULL)) != 0)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_DELIVERY_CLAIM) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->key);
    hqdb_bind_int64(&st, 2, now_of(tx));
    if ((rc = hqdb_exec(&st, &changes)) != 0 || changes)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_DELIVERY_GET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->key);
    *seen = true;
    return one_text(&st, j->reply, sizeof j->reply);
}

static int bot_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_bot *j = (struct store_hq_bot *)job;
    struct binding b;
    int rc = 0;
    j->duplicate = false;
    j->outcome = HQ_BOT_DONE;
    j->nevents = 0;
    j->aum_fen = -1;
    j->member_no[0] = j->name_masked[0] = j->reply[0] = '\0';
    if (j->key[0] && (rc = delivery_claim(tx, j, &j->duplicate)) != 0)
        return rc;
    if (j->duplicate)
        return 0;
    if ((rc = binding_get(tx, j->identity, &b)) != 0)
        return rc;
    snprintf(j->member_no, sizeof j->member_no, "%s", b.member_no);
    bool bound = b.member_no[0] != '\0';
    switch (j->op) {
    case HQ_BOT_NONE:
        break;
    case HQ_BOT_POINTS:
        if (!bound)
            j->outcome = HQ_BOT_NOT_BOUND;
        else if ((rc = do_points(tx, j)) == KIOSKD_ENOTFOUND) {
            j->outcome = HQ_BOT_NOT_BOUND; /* the member is gone from HQ */
            rc = 0;
        }
        break;
    case HQ_BOT_EVENTS:
        rc = do_events(tx, j);
        break;
    case HQ_BOT_SIGNUP:
        if (!bound)
            j->outcome = HQ_BOT_NOT_BOUND;
        else if ((rc = do_signup(tx, j)) == KIOSKD_ENOTFOUND) {
            j->outcome = HQ_BOT_NOT_BOUND;
            rc = 0;
        }
        break;
    case HQ_BOT_BIND:
        rc = do_bind(tx, j, &b);
        break;
    case HQ_BOT_UNBIND:
        if (!bound) {
            j->outcome = HQ_BOT_NOT_BOUND;
            break;
        }
        b.member_no[0] = '\0';
        rc = binding_put(tx, j->identity, &b);
        break;
    }
    if (rc)
        return rc;
    j->text(j, j->reply, sizeof j->reply);
    if (!j->key[0])
        return 0;
    struct hqdb_stmt st;
    if (hqdb_prepare(tx, &st, SQL_DELIVERY_SET) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->key);
    hqdb_bind_text(&st, 2, j->reply);
    return hqdb_exec(&st, NULL);
}

void store_hq_bot_init(struct store_hq_bot *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = bot_run;
}

static int bind_code_run(struct store_tx *tx, struct store_job *job)
{
    struct store_hq_bind_code *j = (struct store_hq_bind_code *)job;
    struct hqdb_stmt st;
    int64_t changes = 0;
    int rc;
    char found[2];
    if (hqdb_prepare(tx, &st, SQL_MEMBER) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->member_no);
    if ((rc = one_text(&st, found, sizeof found)) != 0)
        return rc;
    if (!found[0])
        return KIOSKD_ENOTFOUND;
    if (hqdb_prepare(tx, &st, SQL_CODES_DROP) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->member_no);
    hqdb_bind_int64(&st, 2, now_of(tx));
    if ((rc = hqdb_exec(&st, NULL)) != 0)
        return rc;
    if (hqdb_prepare(tx, &st, SQL_CODE_INSERT) != 0)
        return KIOSKD_EIO;
    hqdb_bind_text(&st, 1, j->code_hash);
    hqdb_bind_text(&st, 2, j->member_no);
    hqdb_bind_int64(&st, 3, j->expires_at);
    if ((rc = hqdb_exec(&st, &changes)) != 0)
        return rc;
    return changes ? 0 : KIOSKD_ECONFLICT; /* another member's code: draw again */
}

void store_hq_bind_code_init(struct store_hq_bind_code *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = bind_code_run;
}
