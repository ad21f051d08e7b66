/* The shape of a push body as HQ reads it (core/hqpush.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hqpush.h"

#define ID "3f2b8c1e-5d4a-4e2b-9c3d-1a2b3c4d5e6f"
#define ENTRY "{\"id\":\"" ID "\",\"seq\":1,\"kind\":\"signup\",\"at\":\"t\",\"data\":{}}"

static const char *why_of(const char *body)
{
    const char *why = NULL;
    json_t *doc = hqpush_parse(body, strlen(body), "b1", &why);
    json_decref(doc);
    assert_true((doc == NULL) == (why != NULL));
    return why;
}

static void a_well_formed_push_is_read(void **state)
{
    (void)state;
    assert_null(why_of("{\"device\":\"b1\",\"entries\":[" ENTRY "]}"));
    assert_null(why_of("{\"device\":\"b1\",\"entries\":[],\"key\":{\"kid\":\"Abc_12-x\","
                       "\"public_pem\":\"-----BEGIN PUBLIC KEY-----\\n\"}}"));
}

static void each_broken_rule_says_what(void **state)
{
    (void)state;
    assert_string_equal(why_of("[]"), "the body is not a JSON object");
    assert_string_equal(why_of("{\"device\":\"b1\",\"device\":\"b1\",\"entries\":[]}"),
                        "the body is not a JSON object");
    assert_string_equal(why_of("{\"device\":\"b2\",\"entries\":[]}"),
                        "device is not the device that signed the request");
    assert_string_equal(why_of("{\"device\":\"b1\",\"entries\":{}}"), "entries is not an array");
    assert_string_equal(why_of("{\"device\":\"b1\",\"entries\":[" ENTRY ",1]}"),
                        "an entry is not an object");
    assert_string_equal(why_of("{\"device\":\"b1\",\"entries\":[{\"id\":\"" ID "\",\"seq\":0}]}"),
                        "an entry's seq is not a positive integer");
    assert_string_equal(why_of("{\"device\":\"b1\",\"entries\":[],\"key\":{\"kid\":\"short\"}}"),
                        "key is not {\"kid\",\"public_pem\"} of a ticket key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_well_formed_push_is_read),
        cmocka_unit_test(each_broken_rule_says_what),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
