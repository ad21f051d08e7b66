/* Connections per address and in all; see connlimit.h. */
#include "daemon/connlimit.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int connlimit_init(struct connlimit *c, int max_total, int per_address, int reserved)
{
    memset(c, 0, sizeof *c);
    if (max_total < 1 || per_address < 1 || reserved < 0 || reserved >= max_total)
        return KIOSKD_EINVAL;
    c->slots = calloc((size_t)max_total, sizeof *c->slots);
    if (!c->slots)
        return KIOSKD_ENOMEM;
    c->max_total = max_total;
    c->per_address = per_address;
    c->reserved = reserved;
    return 0;
}

void connlimit_free(struct connlimit *c)
{
    free(c->slots);
    memset(c, 0, sizeof *c);
}

/* A linear scan: at most max_total slots, a few microseconds per accept. */
enum conn_verdict connlimit_take(struct connlimit *c, const unsigned char addr[CONN_ADDR_LEN],
                                 struct conn_addr **slot)
{
    struct conn_addr *free_slot = NULL;
    *slot = NULL;
    if (c->total >= c->max_total)
        return CONN_FULL;
    for (int i = 0; i < c->max_total; i++) {
        struct conn_addr *s = &c->slots[i];
        if (s->n == 0) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (memcmp(s->addr, addr, CONN_ADDR_LEN) == 0) {
            if (s->n >= c->per_address)
                return CONN_ADDRESS_FULL;
            s->n++;
            c->total++;
            *slot = s;
            return CONN_OK;
        }
    }
    /* total < max_total, so some slot is free */
    memcpy(free_slot->addr, addr, CONN_ADDR_LEN);
    free_slot->n = 1;
    c->total++;
    *slot = free_slot;
    return CONN_OK;
}

void connlimit_put(struct connlimit *c, struct conn_addr *slot)
{
    if (!slot || slot->n <= 0)
        return;
    slot->n--;
    c->total--;
}

bool connlimit_crowded(const struct connlimit *c)
{
    return c->total > c->max_total - c->reserved;
}
