/* Route matching: literals, parameters, suffixes, 404 versus 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/router.h"

static void h(struct req *r)
{
    (void)r;
}

static const struct route table_a[] = {
    {.method = HTTP_GET, .pattern = "/healthz", .fn = h},
    {.method = HTTP_GET, .pattern = "/api/v1/events", .fn = h},
    {.method = HTTP_POST, .pattern = "/api/v1/events", .role = ROLE_MANAGER, .fn = h},
    {.method = HTTP_POST, .pattern = "/api/v1/events/{id}/signups", .fn = h},
    {0},
};
static const struct route table_b[] = {
    {.method = HTTP_GET, .pattern = "/api/v1/tickets/{code}.svg", .fn = h},
    {.method = HTTP_GET, .pattern = "/api/v1/tickets/{code}.png", .fn = h},
    {.method = HTTP_DELETE, .pattern = "/api/v1/checkins/{id}", .role = ROLE_STAFF, .fn = h},
    {0},
};
static const struct route *const tables[] = {table_a, table_b, NULL};

static void test_literal_and_methods(void **state)
{
    (void)state;
    struct router rt;
    struct route_params p;
    int allowed;
    assert_int_equal(router_init(&rt, tables), 0);
    assert_int_equal(rt.n, 7);
    assert_int_equal(router_match(&rt, HTTP_GET, "/healthz", &p, &allowed), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(router_match(&rt, HTTP_POST, "/api/v1/events", &p, &allowed), 2);
    assert_int_equal(router_match(&rt, HTTP_DELETE, "/api/v1/events", &p, &allowed), -2);
    assert_int_equal(allowed, HTTP_GET | HTTP_POST);
    assert_int_equal(router_match(&rt, HTTP_GET, "/healthz/", &p, &allowed), -1);
    assert_int_equal(router_match(&rt, HTTP_GET, "/healthzz", &p, &allowed), -1);
    assert_int_equal(router_match(&rt, HTTP_GET, "/", &p, &allowed), -1);
    assert_int_equal(router_match(&rt, HTTP_GET, "", &p, &allowed), -1);
    router_free(&rt);
}

static void test_parameters(void **state)
{
    (void)state;
    struct router rt;
    struct route_params p;
    int allowed;
    assert_int_equal(router_init(&rt, tables), 0);
    assert_int_equal(router_match(&rt, HTTP_POST, "/api/v1/events/42/signups", &p, &allowed), 3);
    assert_string_equal(route_param(&p, "id"), "42");
    assert_null(route_param(&p, "code"));
    assert_int_equal(router_match(&rt, HTTP_POST, "/api/v1/events//signups", &p, &allowed), -1);
    assert_int_equal(router_match(&rt, HTTP_GET, "/api/v1/tickets/K1.ab.cd.ef.svg", &p, &allowed),
                     4);
    assert_string_equal(route_param(&p, "code"), "K1.ab.cd.ef");
    assert_int_equal(router_match(&rt, HTTP_GET, "/api/v1/tickets/K1.png", &p, &allowed), 5);
    assert_string_equal(route_param(&p, "code"), "K1");
    assert_int_equal(router_match(&rt, HTTP_GET, "/api/v1/tickets/.svg", &p, &allowed), -1);
    assert_int_equal(router_match(&rt, HTTP_GET, "/api/v1/tickets/abc.gif", &p, &allowed), -1);
    char longpath[400] = "/api/v1/checkins/";
    memset(longpath + strlen(longpath), '9', 300);
    assert_int_equal(router_match(&rt, HTTP_DELETE, longpath, &p, &allowed), -1);
    router_free(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_methods),
        cmocka_unit_test(test_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
