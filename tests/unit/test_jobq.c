/*
 * The loop's hand-off queue: bounded submit, FIFO batch and single takes,
 * the done list and inflight count, stop with nodes queued, and a thread
 * that waits for its node to finish; lanes (priority, bounds, a taker kept
 * to one lane, a bound passed over, cancelling a lane).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/jobq.h"
#include "core/status.h"

struct item {
    struct jobq_node node;
    int id;
};

static int seen[16], nseen;

static void record(struct jobq_node *n)
{
    seen[nseen++] = ((struct item *)(void *)n)->id;
}

static void test_bounded_fifo_and_done_list(void **state)
{
    (void)state;
    struct jobq q;
    struct item it[5];
    struct jobq_node *out[8];
    jobq_init(&q, 4);
    for (int i = 0; i < 5; i++)
        it[i].id = i;
    for (int i = 0; i < 4; i++)
        assert_int_equal(jobq_submit(&q, &it[i].node), 0);
    assert_int_equal(jobq_submit(&q, &it[4].node), KIOSKD_EBUSY); /* full */
    assert_int_equal(jobq_len(&q), 4);
    assert_int_equal(jobq_inflight(&q), 4);

    assert_int_equal(jobq_take(&q, out, 3), 3); /* a batch, oldest first */
    assert_ptr_equal(out[0], &it[0].node);
    assert_ptr_equal(out[2], &it[2].node);
    assert_int_equal(jobq_len(&q), 1);
    assert_int_equal(jobq_submit(&q, &it[4].node), 0); /* room again */
    assert_int_equal(jobq_take(&q, out + 3, 1), 1);    /* a single take */
    assert_ptr_equal(out[3], &it[3].node);

    nseen = 0;
    assert_int_equal(jobq_complete(&q, record), 0); /* nothing finished yet */
    jobq_finish(&q, out + 3, 1);
    jobq_finish(&q, out, 3);
    assert_int_equal(jobq_inflight(&q), 5); /* finished is not completed */
    assert_int_equal(jobq_complete(&q, record), 4);
    assert_int_equal(nseen, 4);
    assert_int_equal(seen[0], 3); /* in the order they finished */
    assert_int_equal(seen[1], 0);
    assert_int_equal(seen[3], 2);
    assert_int_equal(jobq_inflight(&q), 1);
    jobq_destroy(&q);
}

static void test_stop_drains_then_refuses(void **state)
{
    (void)state;
    struct jobq q;
    struct item a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    struct jobq_node *out[4];
    jobq_init(&q, 0);
    assert_int_equal(jobq_submit(&q, &a.node), 0);
    assert_int_equal(jobq_submit(&q, &b.node), 0);
    jobq_stop(&q);
    assert_int_equal(jobq_submit(&q, &c.node), KIOSKD_ESHUTDOWN);
    assert_int_equal(jobq_take(&q, out, 4), 2); /* what was queued is still taken */
    assert_int_equal(jobq_take(&q, out, 4), 0); /* then: stopped and empty */
    jobq_restart(&q);
    assert_int_equal(jobq_submit(&q, &c.node), 0);
    assert_int_equal(jobq_len(&q), 1);
    jobq_destroy(&q);
}

static void test_wait_idle(void **state)
{
    (void)state;
    struct jobq q;
    struct item a = {.id = 1};
    struct jobq_node *out[2];
    jobq_init(&q, 0);
    assert_false(jobq_wait_idle(&q, 5)); /* nothing came: idle */
    assert_int_equal(jobq_submit_lane(&q, &a.node, 1, false), 0);
    assert_true(jobq_wait_idle(&q, 5)); /* a node in any lane */
    assert_int_equal(jobq_len(&q), 1);  /* left for jobq_take */
    assert_int_equal(jobq_take(&q, out, 2), 1);
    assert_false(jobq_wait_idle(&q, 5));
    jobq_stop(&q);
    assert_true(jobq_wait_idle(&q, 5)); /* stopping wakes it as jobq_take */
    jobq_destroy(&q);
}

struct waiter {
    struct jobq *q;
    struct item *it;
    int done;
};

static void *wait_for(void *arg)
{
    struct waiter *w = arg;
    jobq_wait_done(w->q, &w->it->node);
    w->done = 1;
    return NULL;
}

static void *take_and_finish(void *arg)
{
    struct jobq *q = arg;
    struct jobq_node *n;
    while (jobq_take(q, &n, 1) == 1)
        jobq_finish(q, &n, 1);
    return NULL;
}

static void test_threads_take_and_waiters_wake(void **state)
{
    (void)state;
    struct jobq q;
    struct item it[8];
    pthread_t worker, waiter;
    jobq_init(&q, 16);
    struct waiter w = {.q = &q, .it = &it[7]};
    assert_int_equal(pthread_create(&worker, NULL, take_and_finish, &q), 0);
    for (int i = 0; i < 8; i++) {
        it[i].id = i;
        assert_int_equal(jobq_submit(&q, &it[i].node), 0);
    }
    assert_int_equal(pthread_create(&waiter, NULL, wait_for, &w), 0);
    pthread_join(waiter, NULL);
    assert_int_equal(w.done, 1);
    jobq_stop(&q);
    pthread_join(worker, NULL); /* a blocked take wakes on stop */
    nseen = 0;
    assert_int_equal(jobq_complete(&q, record), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(seen[i], i);
    assert_int_equal(jobq_inflight(&q), 0);
    jobq_destroy(&q);
}

static int cancelled_ids[8], ncancelled;

static void mark_cancelled(struct jobq_node *n)
{
    cancelled_ids[ncancelled++] = ((struct item *)(void *)n)->id;
}

static void test_lanes(void **state)
{
    (void)state;
    struct jobq q;
    struct item it[8];
    struct jobq_node *out[8];
    for (int i = 0; i < 8; i++)
        it[i].id = i;
    jobq_init(&q, 2);
    jobq_set_max(&q, 1, 3);
    assert_int_equal(jobq_submit_lane(&q, &it[0].node, 1, false), 0);
    assert_int_equal(jobq_submit_lane(&q, &it[1].node, 1, false), 0);
    assert_int_equal(jobq_submit_lane(&q, &it[2].node, 1, false), 0);
    assert_int_equal(jobq_submit_lane(&q, &it[3].node, 1, false), KIOSKD_EBUSY);
    assert_int_equal(jobq_submit(&q, &it[3].node), 0); /* lane 0 has its own bound */
    assert_int_equal(jobq_submit(&q, &it[4].node), 0);
    assert_int_equal(jobq_submit(&q, &it[5].node), KIOSKD_EBUSY);
    assert_int_equal(jobq_submit_lane(&q, &it[5].node, 0, true), 0); /* past the bound */
    assert_int_equal(jobq_submit_lane(&q, &it[6].node, 2, false), KIOSKD_EINVAL);
    assert_int_equal(jobq_len(&q), 6);
    assert_int_equal(jobq_lane_len(&q, 1), 3);
    /* lane 0 first, though lane 1 was queued earlier */
    assert_int_equal(jobq_take(&q, out, 2), 2);
    assert_int_equal(((struct item *)(void *)out[0])->id, 3);
    assert_int_equal(((struct item *)(void *)out[1])->id, 4);
    /* a taker of lane 1 only skips lane 0 */
    assert_int_equal(jobq_take_lanes(&q, out + 2, 1, 1u << 1), 1);
    assert_int_equal(((struct item *)(void *)out[2])->id, 0);
    /* cancelling lane 1 leaves lane 0 queued and finishes the rest in order */
    ncancelled = 0;
    assert_int_equal(jobq_cancel(&q, 1, mark_cancelled), 2);
    assert_int_equal(ncancelled, 2);
    assert_int_equal(cancelled_ids[0], 1);
    assert_int_equal(cancelled_ids[1], 2);
    assert_int_equal(jobq_lane_len(&q, 1), 0);
    assert_int_equal(jobq_len(&q), 1);
    nseen = 0;
    assert_int_equal(jobq_complete(&q, record), 2);
    assert_int_equal(seen[0], 1);
    jobq_finish(&q, out, 3);
    assert_int_equal(jobq_take(&q, out, 8), 1);
    assert_int_equal(((struct item *)(void *)out[0])->id, 5);
    jobq_finish(&q, out, 1);
    assert_int_equal(jobq_complete(&q, record), 4);
    assert_int_equal(jobq_inflight(&q), 0);
    jobq_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_fifo_and_done_list),
        cmocka_unit_test(test_stop_drains_then_refuses),
        cmocka_unit_test(test_threads_take_and_waiters_wake),
        cmocka_unit_test(test_lanes),
        cmocka_unit_test(test_wait_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
