/*
 * Personal data at rest (DESIGN.md section 3): names and phones are sealed
 * with AES-256-GCM and found again through an HMAC-SHA256 keyed hash, so the
 * database holds neither in clear. Both keys are derived from one 32-byte
 * master key (daemon/keys.h loads it) with HMAC-SHA256 under distinct labels.
 *
 * A sealed value is nonce(12) | ciphertext | tag(16): PII_OVERHEAD bytes more
 * than the plaintext. Nonces are random, which is safe for far more values
 * than a branch will ever seal under one key (2^32).
 *
 * The aad is a short label naming what the value is ("signup.phone",
 * "member.name"), so a value cannot be moved to another column and still
 * open. Normalising what is hashed (e.g. a phone to +86 digits) is the
 * caller's job.
 *
 * Threads: a struct pii is used by one thread at a time (the GCM context
 * keeps per-call state); pii_hash only reads it.
 */
#ifndef KIOSKD_PII_H
#define KIOSKD_PII_H

#include <stddef.h>

#include <mbedtls/gcm.h>

#include "core/rng.h"

#define PII_OVERHEAD 28 /* nonce 12 + tag 16 */
#define PII_HASH_LEN 32

struct pii {
    mbedtls_gcm_context gcm;   /* AES-256 under the derived encryption key */
    unsigned char mac_key[32]; /* derived key of pii_hash */
};

/*
 * Derives the keys from master. Returns 0 or KIOSKD_ECRYPTO. The caller owns
 * and wipes master. Call pii_free either way.
 */
int pii_init(struct pii *p, const unsigned char master[32]);

/* Wipes and frees the keys; accepts a zeroed struct and NULL. */
void pii_free(struct pii *p);

/*
 * Seals plain[0..len) bound to aad (NUL-terminated label) into out, writing
 * len + PII_OVERHEAD bytes and setting *outlen. out must not overlap plain.
 * Returns 0, KIOSKD_EINVAL, KIOSKD_ETOOBIG (cap too small) or KIOSKD_ECRYPTO.
 */
int pii_seal(struct pii *p, struct rng *rng, const char *aad, const void *plain, size_t len,
             unsigned char *out, size_t cap, size_t *outlen);

/*
 * Opens a value sealed under the same aad into out, NUL-terminated; *outlen
 * is its length without the NUL (the value may itself contain NUL bytes).
 * Needs cap >= len - PII_OVERHEAD + 1. Returns 0, KIOSKD_ECRYPTO (input
 * shorter than PII_OVERHEAD, tampered, wrong key or wrong aad; out is then
 * wiped), KIOSKD_ETOOBIG (cap too small) or KIOSKD_EINVAL.
 */
int pii_open(struct pii *p, const char *aad, const unsigned char *in, size_t len, char *out,
             size_t cap, size_t *outlen);

/*
 * Writes HMAC-SHA256(mac key, s[0..len)) to out, for finding a value without
 * storing it in clear. The same master key and text always give the same
 * hash. Returns 0, or KIOSKD_ECRYPTO if mbedTLS failed (out is then wiped);
 * the built-in SHA-256 does not fail, so callers written for a void function
 * keep working.
 */
int pii_hash(const struct pii *p, const char *s, size_t len, unsigned char out[PII_HASH_LEN]);

#endif
