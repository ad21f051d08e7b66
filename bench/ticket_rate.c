/*
 * ticket_rate: the CPU price of a ticket on this machine, one thread, with
 * the daemon's own code (core/ticket.c over mbedTLS): ECDSA P-256 signing
 * (what every sign-up costs), ECDSA verification (what a check-in cost before
 * digests, and still costs for other keys' tickets) and the keyed digest a
 * check-in of an own ticket costs instead.
 *
 *   ticket_rate [SECONDS]
 *
 * Runs each for SECONDS (default 2) and prints one line each:
 *
 *   op=sign n=N seconds=S rate=R us=U
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "core/ticket.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct state {
    struct rng rng;
    struct ticket_key key;
    struct ticket_keyring ring;
    unsigned char dkey[TICKET_DIGEST_LEN];
    struct ticket_payload p;
    char code[TICKET_CODE_MAX + 1];
};

static int op_sign(struct state *s)
{
    s->p.signup_id++;
    return ticket_sign(&s->key, &s->rng, &s->p, s->code, sizeof s->code);
}

static int op_verify(struct state *s)
{
    struct ticket_payload got;
    return ticket_verify(&s->ring, s->code, strlen(s->code), &got);
}

static int op_digest(struct state *s)
{
    struct ticket_payload got;
    char kid[TICKET_KID_LEN + 1];
    unsigned char digest[TICKET_DIGEST_LEN];
    int rc = ticket_parse(s->code, strlen(s->code), &got, kid);
    return rc ? rc : ticket_digest(s->dkey, s->code, strlen(s->code), digest);
}

/* Runs op over and over for seconds and prints its rate; 0 or op's error. */
static int measure(const char *name, int (*op)(struct state *), struct state *s, double seconds)
{
    long n = 0;
    double t0 = mono(), t;
    do {
        int rc = op(s);
        if (rc)
            return rc;
        n++;
    } while ((t = mono() - t0) < seconds);
    printf("op=%s n=%ld seconds=%.2f rate=%.0f us=%.2f\n", name, n, t, (double)n / t,
           t * 1e6 / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (argc > 2 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "usage: ticket_rate [SECONDS]\n");
        return 2;
    }
    static struct state s = {.p = {1, 1, 1767225600}};
    if (rng_init(&s.rng) != 0 || ticket_key_generate(&s.key, &s.rng) != 0 ||
        ticket_digest_key(&s.key, s.dkey) != 0) {
        fprintf(stderr, "ticket_rate: cannot make a key\n");
        return 1;
    }
    s.ring.keys[0] = &s.key;
    s.ring.n = 1;
    int rc = measure("sign", op_sign, &s, seconds);
    if (rc == 0)
        rc = measure("verify", op_verify, &s, seconds);
    if (rc == 0)
        rc = measure("parse+digest", op_digest, &s, seconds);
    if (rc)
        fprintf(stderr, "ticket_rate: failed (%d)\n", rc);
    ticket_key_free(&s.key);
    rng_free(&s.rng);
    return rc ? 1 : 0;
}
