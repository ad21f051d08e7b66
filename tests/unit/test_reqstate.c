/* The request state machine of daemon/http.h: its transitions and invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "daemon/http.h"

/* The diagram in daemon/http.h, written out independently. */
static const struct {
    enum req_state from, to;
} edges[] = {
    {REQ_NEW, REQ_BODY},         {REQ_NEW, REQ_HANDLER},      {REQ_NEW, REQ_ANSWERED},
    {REQ_BODY, REQ_HANDLER},     {REQ_BODY, REQ_ANSWERED},    {REQ_HANDLER, REQ_WAITING},
    {REQ_HANDLER, REQ_ANSWERED}, {REQ_WAITING, REQ_RESUMED},  {REQ_RESUMED, REQ_WAITING},
    {REQ_RESUMED, REQ_ANSWERED}, {REQ_ANSWERED, REQ_WRITTEN},
};

static void every_transition_is_the_diagrams(void **state)
{
    (void)state;
    for (int from = REQ_NEW; from <= REQ_WRITTEN; from++)
        for (int to = REQ_NEW; to <= REQ_WRITTEN; to++) {
            bool expected = false;
            for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
                expected |=
                    edges[i].from == (enum req_state)from && edges[i].to == (enum req_state)to;
            assert_int_equal(req_transition_ok((enum req_state)from, (enum req_state)to), expected);
        }
    assert_false(req_transition_ok(REQ_WRITTEN + 1, REQ_NEW));
}

static void invariants_catch_each_broken_rule(void **state)
{
    (void)state;
    static struct req r;
    struct req_wait w = {.req = &r};
    memset(&r, 0, sizeof r);
    assert_true(req_check(&r));

    /* 1. wait is set exactly while WAITING */
    r.state = REQ_WAITING;
    assert_false(req_check(&r));
    r.wait = &w;
    assert_true(req_check(&r));
    r.state = REQ_RESUMED;
    assert_false(req_check(&r));
    r.wait = NULL;
    assert_true(req_check(&r));

    /* 2. an answer only from ANSWERED on */
    r.status = 200;
    assert_false(req_check(&r));
    r.state = REQ_ANSWERED;
    assert_true(req_check(&r));

    /* 3. counted as unwritten only while ANSWERED */
    r.counted_unwritten = true;
    assert_true(req_check(&r));
    r.state = REQ_WRITTEN;
    assert_false(req_check(&r));
}

/* The body sent when an answer could not be built has the contract's shape. */
static void the_fallback_error_body_has_the_contract_shape(void **state)
{
    (void)state;
    json_t *doc = json_loads(req_error_fallback, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 1);
    json_t *err = json_object_get(doc, "error");
    assert_true(json_is_string(json_object_get(err, "code")));
    assert_true(json_is_string(json_object_get(err, "message")));
    json_decref(doc);
}

/* Query fragments as lws hands them over: name=value, a bare name, another
 * name that starts the same, a value that does not fit, and the fragment
 * being the caller's buffer itself. */
static void query_fragments_match_only_their_name(void **state)
{
    (void)state;
    char buf[8];
    bool too_long = true;
    assert_int_equal(query_arg("limit=50", 8, "limit", buf, sizeof buf, &too_long), 1);
    assert_false(too_long);
    assert_string_equal(buf, "50");
    assert_int_equal(query_arg("limit", 5, "limit", buf, sizeof buf, &too_long), 1);
    assert_string_equal(buf, "");
    assert_int_equal(query_arg("limits=5", 8, "limit", buf, sizeof buf, &too_long), 0);
    assert_int_equal(query_arg("lim", 3, "limit", buf, sizeof buf, &too_long), 0);
    assert_int_equal(query_arg("q=12345678", 10, "q", buf, sizeof buf, &too_long), 1);
    assert_true(too_long);
    assert_int_equal(query_arg("q=1234567", 9, "q", buf, sizeof buf, &too_long), 1);
    assert_false(too_long);
    assert_string_equal(buf, "1234567");
    memcpy(buf, "since=7", 8);
    assert_int_equal(query_arg(buf, 7, "since", buf, sizeof buf, &too_long), 1);
    assert_string_equal(buf, "7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_transition_is_the_diagrams),
        cmocka_unit_test(invariants_catch_each_broken_rule),
        cmocka_unit_test(the_fallback_error_body_has_the_contract_shape),
        cmocka_unit_test(query_fragments_match_only_their_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
