/* Fixed-bucket histograms. */
#include "core/hist.h"

#include <string.h>

const double hist_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const size_t hist_latency_nbounds = sizeof hist_latency_bounds / sizeof hist_latency_bounds[0];
const double hist_size_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
const size_t hist_size_nbounds = sizeof hist_size_bounds / sizeof hist_size_bounds[0];

void hist_init(struct hist *h, const double *bounds, size_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds > HIST_MAX_BUCKETS ? HIST_MAX_BUCKETS : nbounds;
}

void hist_observe(struct hist *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

double hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    double want = q * (double)h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        seen += h->counts[i];
        if ((double)seen >= want)
            return h->bounds[i];
    }
    return h->nbounds ? h->bounds[h->nbounds - 1] * 2 : 0;
}
