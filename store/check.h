/*
 * Consistency checks: counters and balances kept beside the rows they count,
 * recomputed from those rows. Reads only; `kioskd check` prints the result.
 */
#ifndef KIOSKD_STORE_CHECK_H
#define KIOSKD_STORE_CHECK_H

#include <stdint.h>

#include "store/store.h"

/* One stored value that differs from its recomputation. */
struct store_check_diff {
    const char *subject;  /* what is checked: "event"; static string */
    int64_t id;           /* its id */
    char counter[32];     /* which value: "confirmed", "walk_ins", ... */
    int64_t stored, rows; /* the stored value and the value its rows give */
};

typedef void (*store_check_fn)(void *arg, const struct store_check_diff *d);

/* Recomputes every check's values through the read connection and calls fn
 * for each difference. Returns the number of differences, or a negative
 * KIOSKD_E* code. */
int store_check(struct store *s, store_check_fn fn, void *arg);

#endif
