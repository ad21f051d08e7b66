/* Token-bucket rate limiting per client address. */
#include "daemon/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define PROBE 8

struct bucket {
    uint64_t key; /* hash of the address; 0 = empty */
    int64_t last_us;
    double tokens;
};

struct ratelimit {
    double rate; /* tokens a second; 0 = off */
    uint32_t burst, nslots;
    struct bucket *slots;
};

static uint64_t hash_addr(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h ? h : 1;
}

struct ratelimit *ratelimit_new(uint32_t rate, uint32_t burst, uint32_t slots)
{
    struct ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->rate = rate;
    rl->burst = burst ? burst : 1;
    rl->nslots = slots < PROBE ? PROBE : slots;
    rl->slots = calloc(rl->nslots, sizeof *rl->slots);
    if (!rl->slots) {
        free(rl);
        return NULL;
    }
    return rl;
}

struct ratelimit *ratelimit_new_per_minute(uint32_t per_minute, uint32_t slots)
{
    struct ratelimit *rl = ratelimit_new(per_minute, per_minute, slots);
    if (rl)
        rl->rate = per_minute / 60.0;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}

int ratelimit_take(struct ratelimit *rl, const char *addr, int64_t now_us)
{
    if (rl->rate <= 0)
        return 0;
    uint64_t key = hash_addr(addr);
    uint32_t start = (uint32_t)(key % rl->nslots);
    struct bucket *b = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < PROBE && !b; i++) {
        struct bucket *c = &rl->slots[(start + i) % rl->nslots];
        if (c->key == key)
            b = c;
        else if (!oldest || (oldest->key != 0 && (c->key == 0 || c->last_us < oldest->last_us)))
            oldest = c; /* an empty slot, else the one idle longest */
    }
    if (!b) {
        b = oldest;
        b->key = key;
        b->tokens = rl->burst;
        b->last_us = now_us;
    }
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * rl->rate / 1e6;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last_us = now_us;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    double wait = (1.0 - b->tokens) / rl->rate;
    int secs = (int)wait + 1;
    return secs < 1 ? 1 : secs;
}
