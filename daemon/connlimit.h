/*
 * Open connections, counted per client address and in all, so that one
 * address cannot hold more than its share and anonymous clients cannot take
 * the last connections (kept for /healthz and signed-in staff). Pure
 * bookkeeping: daemon/server.c counts a connection at accept and forgets it
 * when lws frees it.
 */
#ifndef KIOSKD_CONNLIMIT_H
#define KIOSKD_CONNLIMIT_H

#include <stdbool.h>

#define CONN_ADDR_LEN 16 /* IPv6, or IPv4 as ::ffff:a.b.c.d */

enum conn_verdict {
    CONN_OK = 0,
    CONN_FULL,         /* max_total connections are open */
    CONN_ADDRESS_FULL, /* this address has per_address connections open */
};

struct conn_addr {
    unsigned char addr[CONN_ADDR_LEN];
    int n; /* open connections from addr; 0: the slot is free */
};

struct connlimit {
    struct conn_addr *slots; /* max_total of them: one per possible address */
    int max_total, per_address, reserved;
    int total;
};

/* Allocates the table; returns 0 or KIOSKD_ENOMEM. reserved: the part of
 * max_total that only /healthz and signed-in staff may use. */
int connlimit_init(struct connlimit *c, int max_total, int per_address, int reserved);
/* Frees the table (c may be zeroed). */
void connlimit_free(struct connlimit *c);
/* Counts a new connection from addr. Returns CONN_OK and its address's slot
 * in *slot (give it back with connlimit_put), or why it is refused. */
enum conn_verdict connlimit_take(struct connlimit *c, const unsigned char addr[CONN_ADDR_LEN],
                                 struct conn_addr **slot);
/* Forgets a connection counted by connlimit_take. */
void connlimit_put(struct connlimit *c, struct conn_addr *slot);
/* True when the connections open exceed what anonymous clients may use. */
bool connlimit_crowded(const struct connlimit *c);

#endif
