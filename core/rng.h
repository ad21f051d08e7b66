/*
 * Random bytes from mbedTLS' CTR-DRBG seeded by the system entropy source.
 * One struct rng per thread; none is shared.
 */
#ifndef KIOSKD_RNG_H
#define KIOSKD_RNG_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <stddef.h>

struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

/* Seeds r; returns 0 or KIOSKD_ECRYPTO. Call rng_free either way. */
int rng_init(struct rng *r);
void rng_free(struct rng *r);
/* Fills buf with n random bytes; 0 or KIOSKD_ECRYPTO. */
int rng_bytes(struct rng *r, void *buf, size_t n);
/* Writes a random (version 4) UUID as 36 characters plus NUL; 0 or KIOSKD_ECRYPTO. */
int rng_uuid(struct rng *r, char out[37]);
/* mbedTLS-style callback (p_rng is a struct rng *). */
int rng_mbedtls(void *p_rng, unsigned char *out, size_t n);

#endif
