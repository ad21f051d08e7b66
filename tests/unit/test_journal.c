/*
 * The outbox journal: entries are jansson documents serialised once, so any
 * text in them (quotes, backslashes, control characters, emoji, 4-byte
 * UTF-8) comes back out of the database as the same JSON; a missing or
 * non-object document is refused and leaves no entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/status.h"
#include "store/store.h"

static char dir[64], dbpath[96];

/* Free text that once broke the hand-written JSON, then the rest of the zoo. */
static const char *const texts[] = {
    "\"Bob\\", "\"*",  "a\\\"b",           "tab\there", "new\nline", "\x01\x1f\x7f",
    "😀🎉",      "𠀀𠀁", "\xf4\x8f\xbf\xbf", "</script>", "\\u0000",   "",
};

struct append_job {
    struct store_job job;
    const char *kind;
    json_t *data;
};

static int append_run(struct store_tx *tx, struct store_job *job)
{
    struct append_job *a = (struct append_job *)job;
    return store_outbox_append(tx, a->kind, a->data);
}

static int append(struct store *s, const char *kind, json_t *data)
{
    struct append_job a;
    memset(&a, 0, sizeof a);
    a.job.run = append_run;
    a.kind = kind;
    a.data = data;
    return store_run(s, &a.job);
}

static struct store *open_store(void)
{
    struct store *s;
    char err[256];
    snprintf(dir, sizeof dir, "/tmp/kioskd-test-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/k.db", dir);
    struct store_opts o = {
        .path = dbpath, .busy_timeout_ms = 1000, .queue_max = 16, .checkpoint_pages = 1000};
    assert_int_equal(store_open(&s, &o, err, sizeof err), 0);
    assert_int_equal(store_start(s), 0);
    return s;
}

static void close_store(struct store *s)
{
    char cmd[160];
    store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Calls fn for each outbox data column in seq order; returns the count. */
static int each_entry(void (*fn)(const char *data, int i))
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT data FROM outbox ORDER BY seq", -1, &st, NULL),
                     SQLITE_OK);
    int i = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), i++);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return i;
}

static void check_entry(const char *data, int i)
{
    json_error_t e;
    json_t *doc = json_loads(data, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "name_masked")), texts[i]);
    assert_int_equal(json_integer_value(json_object_get(doc, "signup_id")), i + 1);
    json_decref(doc);
}

static void test_text_round_trips(void **state)
{
    (void)state;
    struct store *s = open_store();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        assert_int_equal(append(s, "signup",
                                json_pack("{s:I, s:s}", "signup_id", (json_int_t)(i + 1),
                                          "name_masked", texts[i])),
                         0);
    assert_int_equal(each_entry(check_entry), (int)(sizeof texts / sizeof texts[0]));
    close_store(s);
}

static void no_entry(const char *data, int i)
{
    (void)data;
    (void)i;
    fail_msg("an outbox entry was written");
}

static void test_refuses_what_is_not_an_object(void **state)
{
    (void)state;
    struct store *s = open_store();
    /* json_pack refuses text that is not UTF-8, so the append sees NULL */
    assert_int_equal(append(s, "signup", json_pack("{s:s}", "name_masked", "\xff")), KIOSKD_ENOMEM);
    assert_int_equal(append(s, "signup", NULL), KIOSKD_ENOMEM);
    assert_int_equal(append(s, "signup", json_string("x")), KIOSKD_EINVAL);
    assert_int_equal(append(s, "signup", json_array()), KIOSKD_EINVAL);
    assert_int_equal(each_entry(no_entry), 0);
    close_store(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_round_trips),
        cmocka_unit_test(test_refuses_what_is_not_an_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
