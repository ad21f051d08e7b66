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

static void report(const char *op, long n, double secs)
{
    printf("op=%s n=%ld seconds=%.2f rate=%.0f us=%.2f\n", op, n, secs, (double)n / secs,
           secs * 1e6 / (double)n);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (argc > 2 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "usage: ticket_rate [SECONDS]\n");
        return 2;
    }
    struct rng rng;
    struct ticket_key key;
    unsigned char dkey[TICKET_DIGEST_LEN], digest[TICKET_DIGEST_LEN];
    char code[TICKET_CODE_MAX + 1];
    if (rng_init(&rng) != 0 || ticket_key_generate(&key, &rng) != 0 ||
        ticket_digest_key(&key, dkey) != 0) {
        fprintf(stderr, "ticket_rate: cannot make a key\n");
        return 1;
    }
    struct ticket_keyring ring = {.keys = {&key}, .n = 1};
    struct ticket_payload p = {1, 1, 1767225600}, got;
    long n = 0;
    double t0 = mono(), t;
    do {
        p.signup_id++;
        if (ticket_sign(&key, &rng, &p, code, sizeof code) != 0)
            return 1;
        n++;
    } while ((t = mono() - t0) < seconds);
    report("sign", n, t);
    n = 0;
    t0 = mono();
    do {
        if (ticket_verify(&ring, code, strlen(code), &got) != 0)
            return 1;
        n++;
    } while ((t = mono() - t0) < seconds);
    report("verify", n, t);
    n = 0;
    t0 = mono();
    do {
        char kid[TICKET_KID_LEN + 1];
        if (ticket_parse(code, strlen(code), &got, kid) != 0 ||
            ticket_digest(dkey, code, strlen(code), digest) != 0)
            return 1;
        n++;
    } while ((t = mono() - t0) < seconds);
    report("parse+digest", n, t);
    ticket_key_free(&key);
    rng_free(&rng);
    return 0;
}
