/* Token buckets: burst, refill, per-address independence, a full table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "daemon/ratelimit.h"

static void test_burst_then_rate(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(2, 3, 64);
    assert_non_null(rl);
    int64_t t = 1000000;
    assert_int_equal(ratelimit_take(rl, "10.0.0.1", t), 0);
    assert_int_equal(ratelimit_take(rl, "10.0.0.1", t), 0);
    assert_int_equal(ratelimit_take(rl, "10.0.0.1", t), 0);
    int wait = ratelimit_take(rl, "10.0.0.1", t);
    assert_true(wait >= 1);
    /* another address is not affected */
    assert_int_equal(ratelimit_take(rl, "10.0.0.2", t), 0);
    /* half a second later one token (rate 2/s) is back */
    assert_int_equal(ratelimit_take(rl, "10.0.0.1", t + 500000), 0);
    assert_true(ratelimit_take(rl, "10.0.0.1", t + 500000) >= 1);
    /* the bucket never holds more than the burst */
    t += 100 * 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "10.0.0.1", t), 0);
    assert_true(ratelimit_take(rl, "10.0.0.1", t) >= 1);
    ratelimit_free(rl);
}

static void test_per_minute(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new_per_minute(6, 64);
    assert_non_null(rl);
    int64_t t = 1000000;
    for (int i = 0; i < 6; i++)
        assert_int_equal(ratelimit_take(rl, "S1", t), 0);
    /* one token comes back every 10 s: Retry-After says so */
    int wait = ratelimit_take(rl, "S1", t);
    assert_true(wait >= 10 && wait <= 11);
    assert_true(ratelimit_take(rl, "S1", t + 5 * 1000000) >= 1);
    assert_int_equal(ratelimit_take(rl, "S1", t + 10 * 1000000), 0);
    ratelimit_free(rl);
    struct ratelimit *off = ratelimit_new_per_minute(0, 8);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ratelimit_take(off, "S1", t), 0);
    ratelimit_free(off);
}

static void test_off_and_full_table(void **state)
{
    (void)state;
    struct ratelimit *off = ratelimit_new(0, 1, 8);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ratelimit_take(off, "a", 0), 0);
    ratelimit_free(off);

    struct ratelimit *rl = ratelimit_new(1, 1, 8);
    char addr[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(addr, sizeof addr, "192.0.2.%d", i);
        assert_int_equal(ratelimit_take(rl, addr, i), 0); /* new addresses always get their burst */
    }
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_per_minute),
        cmocka_unit_test(test_off_and_full_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
