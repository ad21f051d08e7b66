/* Per-thread CSPRNG on mbedTLS. */
#include "core/rng.h"

#include <stdio.h>
#include <string.h>

#include "core/status.h"

int rng_init(struct rng *r)
{
    static const char pers[] = "kioskd";
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                              (const unsigned char *)pers, sizeof pers - 1) != 0)
        return KIOSKD_ECRYPTO;
    return 0;
}

void rng_free(struct rng *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

int rng_bytes(struct rng *r, void *buf, size_t n)
{
    return mbedtls_ctr_drbg_random(&r->drbg, buf, n) == 0 ? 0 : KIOSKD_ECRYPTO;
}

int rng_mbedtls(void *p_rng, unsigned char *out, size_t n)
{
    return mbedtls_ctr_drbg_random(&((struct rng *)p_rng)->drbg, out, n);
}

int rng_uuid(struct rng *r, char out[37])
{
    unsigned char b[16];
    if (rng_bytes(r, b, sizeof b))
        return KIOSKD_ECRYPTO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}
