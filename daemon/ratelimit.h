/*
 * Per-address token buckets: `rate` requests a second with bursts of `burst`.
 * A fixed table (no allocation after creation); when it is full the bucket
 * idle longest in the probe window is reused, which can only forgive, never
 * block, a client. Pure: the caller passes the time.
 */
#ifndef KIOSKD_RATELIMIT_H
#define KIOSKD_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* Returns a new limiter (caller frees with ratelimit_free), or NULL. rate 0: off. */
struct ratelimit *ratelimit_new(uint32_t rate, uint32_t burst, uint32_t slots);
/* Returns a new limiter allowing per_minute requests a minute per key, all of
 * them at once at most (burst = per_minute), or NULL. per_minute 0: off. */
struct ratelimit *ratelimit_new_per_minute(uint32_t per_minute, uint32_t slots);
void ratelimit_free(struct ratelimit *rl);
/* Takes one token for addr (any key: an address, a staff id) at time now_us. Returns 0 when
 * allowed, else the whole seconds (>= 1) until a token is available (for Retry-After). */
int ratelimit_take(struct ratelimit *rl, const char *addr, int64_t now_us);

#endif
