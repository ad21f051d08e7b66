/*
 * libFuzzer target: arbitrary bytes (not NUL-terminated, in a block of
 * exactly `size` bytes) through ticket_verify, with a keyring holding a fixed
 * synthetic key, so that the valid seed in tests/fuzz/corpus/ticket/ reaches
 * the signature check. Checks that the result is one of the documented codes
 * and that any accepted code is exactly what ticket_sign writes for its
 * payload (codes are canonical: one valid code per key and payload). Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 \
 *     -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. tests/fuzz/fuzz_ticket.c \
 *     core/ticket.c core/rng.c core/status.c -lmbedtls -lmbedx509 -lmbedcrypto \
 *     -o /tmp/fuzz_ticket
 *   /tmp/fuzz_ticket -max_total_time=60 tests/fuzz/corpus/ticket
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/ticket.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

/* The synthetic test key of tests/unit/test_ticket.c (kid s0eL66di). */
static const char fixed_priv[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIJVE5IusF5rCoPY0RoL/pNQk4jFRWydSuPcpRCCNBcK5oAoGCCqGSM49\n"
    "AwEHoUQDQgAE3gksc5ydlyrIu/EQSvBhtswEBpGWTBBKvpshxKKhoOljeC4TeVCU\n"
    "m0hpTDq2ven52njSUJqm4yWibiMW6VQZeA==\n"
    "-----END EC PRIVATE KEY-----\n";

/* Process-wide fixtures: libFuzzer runs inputs one at a time on one thread. */
static struct ticket_key key;
static struct ticket_keyring ring;
static struct rng rng;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct ticket_payload p;
    char again[TICKET_CODE_MAX + 1];

    if (!ready) {
        CHECK(rng_init(&rng) == 0);
        CHECK(ticket_key_load_pem(&key, fixed_priv, sizeof fixed_priv - 1) == 0);
        ring.keys[0] = &key;
        ring.n = 1;
        ready = 1;
    }
    int rc = ticket_verify(&ring, (const char *)data, size, &p);
    CHECK(rc == 0 || rc == KIOSKD_EMALFORMED || rc == KIOSKD_ENOTFOUND || rc == KIOSKD_EBADSIG);
    if (rc == 0) {
        CHECK(size == TICKET_CODE_LEN);
        CHECK(ticket_sign(&key, &rng, &p, again, sizeof again) == 0);
        CHECK(memcmp(again, data, size) == 0);
    }
    return 0;
}
