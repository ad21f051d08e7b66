/*
 * A fixed-bucket histogram for Prometheus: counts of observations at or below
 * each bound, plus sum and count. Not thread-safe; the owner serialises.
 */
#ifndef KIOSKD_HIST_H
#define KIOSKD_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_MAX_BUCKETS 16

struct hist {
    const double *bounds;                  /* ascending upper bounds; static */
    size_t nbounds;                        /* <= HIST_MAX_BUCKETS */
    uint64_t counts[HIST_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    double sum;
    uint64_t count;
};

/* Latency bounds in seconds, from 100 µs to 10 s. */
extern const double hist_latency_bounds[];
extern const size_t hist_latency_nbounds;
/* Size bounds (1, 2, 4 ... 1024), e.g. for batch sizes. */
extern const double hist_size_bounds[];
extern const size_t hist_size_nbounds;

void hist_init(struct hist *h, const double *bounds, size_t nbounds);
void hist_observe(struct hist *h, double v);
/* Returns the smallest bound at or below which fraction q of observations lie
 * (a bucket-resolution quantile); 0 when empty. */
double hist_quantile(const struct hist *h, double q);

#endif
