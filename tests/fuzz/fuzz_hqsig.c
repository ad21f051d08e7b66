/*
 * libFuzzer target: arbitrary bytes as the Authorization header HQ receives
 * (hqsig_parse), checking what a parsed header promises (a valid device id,
 * a lowercase hex signature of full length) and that writing the parsed
 * header out and parsing it again gives the same fields; then a verify with
 * a fixed secret never accepts what was not signed with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hqsig.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hqsig_auth a, b;
    memset(&a, 0, sizeof a);
    if (hqsig_parse((const char *)data, size, &a) != 0)
        return 0;
    CHECK(hqsig_device_ok(a.device));
    CHECK(strlen(a.sig) == HQSIG_HEX && strspn(a.sig, "0123456789abcdef") == HQSIG_HEX);
    char header[HQSIG_HEADER_MAX + 1];
    CHECK(hqsig_header(a.device, a.ts, a.sig, header, sizeof header) == 0);
    memset(&b, 0, sizeof b);
    CHECK(hqsig_parse(header, strlen(header), &b) == 0);
    CHECK(strcmp(a.device, b.device) == 0 && a.ts == b.ts && strcmp(a.sig, b.sig) == 0);
    char hash[HQSIG_HEX + 1];
    CHECK(hqsig_body_hash("", 0, hash) == 0);
    static const char secret[] = "fuzz-secret-that-signed-nothing";
    char good[HQSIG_HEX + 1];
    CHECK(hqsig_sign_hash(secret, sizeof secret - 1, "POST", "/sync/v1/push", a.ts, hash, good) ==
          0);
    int ok = hqsig_verify_hash(secret, sizeof secret - 1, "POST", "/sync/v1/push", hash, &a);
    CHECK((ok == 0) == (strcmp(good, a.sig) == 0));
    return 0;
}
