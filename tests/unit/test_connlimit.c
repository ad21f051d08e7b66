/* Connections per address and in all: the per-address cap, the total, the reserve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/connlimit.h"

static void addr_of(unsigned char a[CONN_ADDR_LEN], int last)
{
    memset(a, 0, CONN_ADDR_LEN);
    a[10] = a[11] = 0xff;
    a[12] = 127;
    a[15] = (unsigned char)last;
}

static void test_per_address_and_total(void **state)
{
    (void)state;
    struct connlimit c;
    struct conn_addr *s[8], *x;
    unsigned char a[CONN_ADDR_LEN], b[CONN_ADDR_LEN];
    assert_int_equal(connlimit_init(&c, 5, 3, 2), 0);
    addr_of(a, 2);
    addr_of(b, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(connlimit_take(&c, a, &s[i]), CONN_OK);
    assert_int_equal(connlimit_take(&c, a, &x), CONN_ADDRESS_FULL);
    assert_null(x);
    assert_false(connlimit_crowded(&c)); /* 3 open, 5 - 2 for anonymous clients */
    assert_int_equal(connlimit_take(&c, b, &s[3]), CONN_OK);
    assert_true(connlimit_crowded(&c));
    assert_int_equal(connlimit_take(&c, b, &s[4]), CONN_OK);
    assert_int_equal(connlimit_take(&c, b, &x), CONN_FULL);
    connlimit_put(&c, s[0]);
    connlimit_put(&c, NULL);
    assert_int_equal(connlimit_take(&c, a, &s[0]), CONN_OK);
    for (int i = 0; i < 5; i++)
        connlimit_put(&c, s[i]);
    assert_int_equal(c.total, 0);
    /* a freed slot is reused by another address */
    assert_int_equal(connlimit_take(&c, b, &x), CONN_OK);
    connlimit_put(&c, x);
    connlimit_free(&c);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    struct connlimit c;
    assert_int_not_equal(connlimit_init(&c, 4, 1, 4), 0);
    assert_int_not_equal(connlimit_init(&c, 0, 1, 0), 0);
    connlimit_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address_and_total),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
