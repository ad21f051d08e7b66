/* Request-body parsing and per-field errors; bounded buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/jsonv.h"
#include "core/status.h"

static int parse(struct jv *v, const char *s)
{
    return jv_parse(v, s, strlen(s));
}

static void test_malformed(void **state)
{
    (void)state;
    struct jv v;
    const char *bad[] = {
        "", "{", "[1,2]", "\"x\"", "{\"a\":1,\"a\":2}", "{\"a\":1} x", "nul", "{\"a\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(&v, bad[i]), KIOSKD_EMALFORMED);
        assert_true(strlen(v.error) > 0);
        jv_free(&v);
    }
}

static void test_fields(void **state)
{
    (void)state;
    struct jv v;
    assert_int_equal(parse(&v, "{\"name\":\"Ann\",\"n\":5,\"ok\":true,\"s\":7,\"big\":99,"
                               "\"empty\":\"\",\"nul\":null}"),
                     0);
    assert_string_equal(jv_str(&v, "name", true, 1, 32), "Ann");
    int64_t n = 0;
    assert_true(jv_int(&v, "n", true, 0, 10, &n));
    assert_int_equal(n, 5);
    bool b = false;
    assert_true(jv_bool(&v, "ok", true, &b));
    assert_true(b);
    assert_true(jv_ok(&v));
    assert_null(jv_str(&v, "s", true, 1, 32));        /* wrong type */
    assert_false(jv_int(&v, "big", true, 0, 10, &n)); /* out of range */
    assert_null(jv_str(&v, "empty", true, 1, 32));    /* too short */
    assert_null(jv_str(&v, "missing", false, 1, 32)); /* optional: no failure */
    assert_null(jv_str(&v, "nul", true, 1, 32));      /* null counts as absent */
    assert_false(jv_bool(&v, "n", false, &b));
    assert_false(jv_ok(&v));
    json_t *f = v.fields;
    assert_string_equal(json_string_value(json_object_get(f, "s")), "must be a string");
    assert_string_equal(json_string_value(json_object_get(f, "big")), "is out of range");
    assert_string_equal(json_string_value(json_object_get(f, "empty")), "must not be empty");
    assert_string_equal(json_string_value(json_object_get(f, "nul")), "is required");
    assert_null(json_object_get(f, "missing"));
    jv_free(&v);
    /* strings with NUL characters never reach handlers */
    assert_int_equal(parse(&v, "{\"a\":\"x\\u0000y\"}"), KIOSKD_EMALFORMED);
    jv_free(&v);
}

/* A body that carried a PIN is wiped in jansson's own copies before it is freed. */
static void test_wipe(void **state)
{
    (void)state;
    struct jv v;
    const char body[] = "{\"pin\":\"135791\",\"n\":{\"deep\":[\"secret\"]}}";
    assert_int_equal(jv_parse(&v, body, strlen(body)), 0);
    const char *pin = json_string_value(json_object_get(v.root, "pin"));
    const char *deep =
        json_string_value(json_array_get(json_object_get(json_object_get(v.root, "n"), "deep"), 0));
    assert_string_equal(pin, "135791");
    jv_wipe(&v);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(pin[i], 0);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(deep[i], 0);
    jv_free(&v);
}

static void test_buf_ceiling(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "hello"), 0);
    assert_int_equal(buf_printf(&b, "%d", 12345), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "hello12345");
    assert_int_equal(buf_puts(&b, "x"), KIOSKD_ETOOBIG);
    assert_int_equal(buf_printf(&b, "%s", "y"), KIOSKD_ETOOBIG);
    assert_string_equal(b.data, "hello12345"); /* unchanged by the failures */
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    size_t len;
    assert_int_equal(buf_puts(&b, "abc"), 0);
    char *s = buf_steal(&b, &len);
    assert_string_equal(s, "abc");
    assert_int_equal(len, 3);
    assert_null(b.data);
    free(s);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_buf_ceiling),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
