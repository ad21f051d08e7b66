/*
 * Signed QR tickets (CONTRACT.md "Ticket QR format"):
 *
 *     K1.<kid>.<payload>.<sig>
 *
 * Each part is base64url without padding. kid (8 characters) names the
 * signing key: the first 6 bytes of SHA-256 of its uncompressed P-256 point.
 * payload (34 characters) is 25 bytes: version 1, then event id, signup id
 * and issue time (unix seconds), each 8 bytes big-endian two's complement.
 * sig (86 characters) is r||s (32 bytes each) of an ECDSA P-256 signature
 * over SHA-256 of the ASCII text `K1.<kid>.<payload>`. A code is always
 * TICKET_CODE_LEN (133) characters.
 *
 * Signing is deterministic (RFC 6979) and s is always the low one of the two
 * valid values (s <= n/2); verification refuses the high one. So a key and a
 * payload give exactly one valid code, and the daemon can re-derive a ticket
 * rather than store it. Verifiers elsewhere that use plain ECDSA accept these
 * codes unchanged.
 *
 * This module only encodes, signs and verifies; it does no file I/O (key files
 * are daemon/keys.h) and knows nothing of revocation or expiry.
 *
 * Threads: mbedTLS caches precomputed tables in the key's ECP group, so one
 * struct ticket_key must not be used by two threads at once (a keyring counts
 * as a use of every key in it). Give each thread its own keys, e.g. by loading
 * the same PEM once per thread. Do not copy a struct ticket_key by value: the
 * copy shares the key's memory.
 */
#ifndef KIOSKD_TICKET_H
#define KIOSKD_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "core/rng.h"

#define TICKET_CODE_MAX 200 /* longest text ticket_verify looks at */
#define TICKET_CODE_LEN 133 /* length of every code ticket_sign writes */
#define TICKET_KID_LEN 8
#define TICKET_KEYRING_MAX 16
#define TICKET_DIGEST_LEN 32 /* HMAC-SHA256 */

struct ticket_payload {
    int64_t event_id;
    int64_t signup_id;
    int64_t issued_at; /* unix seconds */
};

struct ticket_key {
    mbedtls_pk_context pk;        /* EC P-256, with or without the private part */
    int has_private;              /* non-zero if the key can sign */
    char kid[TICKET_KID_LEN + 1]; /* base64url, NUL-terminated */
};

/* Keys that verification trusts; the ring borrows the keys, it owns nothing. */
struct ticket_keyring {
    const struct ticket_key *keys[TICKET_KEYRING_MAX];
    int n;
};

/*
 * Creates a new private key. Returns 0 or KIOSKD_ECRYPTO / KIOSKD_ENOMEM; on
 * failure k is left zeroed. Either way ticket_key_free(k) may be called.
 */
int ticket_key_generate(struct ticket_key *k, struct rng *rng);

/*
 * Loads a private key PEM (SEC1 "EC PRIVATE KEY" or PKCS#8, as written by
 * ticket_key_write_pem) or a public key PEM (SubjectPublicKeyInfo) of a P-256
 * key, and derives its kid. pem need not be NUL-terminated (a single trailing
 * NUL counted in len is allowed). Returns 0, KIOSKD_EMALFORMED (not a key PEM
 * or a private key whose public part does not match), KIOSKD_EINVAL (a key
 * that is not EC P-256), KIOSKD_ETOOBIG or KIOSKD_ENOMEM; on failure k is left
 * zeroed. Wipes its own copy of the PEM; the caller wipes pem.
 */
int ticket_key_load_pem(struct ticket_key *k, const char *pem, size_t len);

/*
 * Writes the key as NUL-terminated PEM into out: the private key (SEC1 "EC
 * PRIVATE KEY") when private_part is non-zero, else the public key ("PUBLIC
 * KEY"). Returns 0, KIOSKD_EINVAL (private part asked of a public-only key),
 * KIOSKD_ETOOBIG (out too small; 512 bytes is plenty) or KIOSKD_ECRYPTO. The
 * caller wipes out after writing a private key.
 */
int ticket_key_write_pem(const struct ticket_key *k, int private_part, char *out, size_t outlen);

/* Frees and wipes k (private part included); accepts a zeroed struct and NULL. */
void ticket_key_free(struct ticket_key *k);

/*
 * Signs p and writes the NUL-terminated code into out (TICKET_CODE_LEN + 1
 * bytes needed; TICKET_CODE_MAX + 1 is a safe size). rng is used only to
 * blind the computation; the code depends only on k and p. Returns 0,
 * KIOSKD_EINVAL (k has no private part), KIOSKD_ETOOBIG, KIOSKD_ENOMEM or
 * KIOSKD_ECRYPTO.
 */
int ticket_sign(const struct ticket_key *k, struct rng *rng, const struct ticket_payload *p,
                char *out, size_t outlen);

/*
 * Verifies the untrusted text code[0..len) (need not be NUL-terminated; never
 * read past len) against the keys of ring, and on success fills *out. The code
 * must be exactly as ticket_sign wrote it: no padding, '+', '/', whitespace or
 * line ending (strip a scanner's CR/LF before calling). Returns 0,
 * KIOSKD_EMALFORMED (wrong shape, bad base64url, wrong lengths, unknown
 * version, longer than TICKET_CODE_MAX), KIOSKD_ENOTFOUND (kid not in ring),
 * KIOSKD_EBADSIG, KIOSKD_EINVAL (ring->n out of range), or on a failure of
 * mbedTLS itself KIOSKD_ENOMEM or KIOSKD_ECRYPTO. *out is written only on
 * success. Expiry and revocation are the caller's.
 */
int ticket_verify(const struct ticket_keyring *ring, const char *code, size_t len,
                  struct ticket_payload *out);

/*
 * Reads the shape, kid and payload of code[0..len) as ticket_verify does,
 * WITHOUT checking its signature: only for a code then compared with the
 * digest kept when this daemon issued it (ticket_digest). kid gets the code's
 * kid, NUL-terminated. Returns 0 or KIOSKD_EMALFORMED; out and kid are written
 * only on success.
 */
int ticket_parse(const char *code, size_t len, struct ticket_payload *out,
                 char kid[TICKET_KID_LEN + 1]);

/*
 * Issued tickets are recognised again without ECDSA by a keyed digest of the
 * whole code, kept with the sign-up: codes are deterministic (one valid code
 * per key and payload), so a scanned code whose digest equals the kept one is
 * the ticket issued, and any other code naming the same payload is not.
 *
 * ticket_digest_key derives the digest key from the private part of k
 * (HMAC-SHA256 of the private scalar and a fixed label): the same key file
 * always gives the same digest key, and it says nothing about the scalar.
 * Returns 0, KIOSKD_EINVAL (k has no private part), KIOSKD_ENOMEM or
 * KIOSKD_ECRYPTO. The caller wipes out.
 *
 * ticket_digest writes HMAC-SHA256(key, code[0..len)) to out. Returns 0,
 * KIOSKD_EINVAL (len 0 or above TICKET_CODE_MAX), KIOSKD_ENOMEM or
 * KIOSKD_ECRYPTO (out is then zeroed).
 *
 * ticket_digest_equal compares two digests in constant time: non-zero when equal.
 */
int ticket_digest_key(const struct ticket_key *k, unsigned char out[TICKET_DIGEST_LEN]);
int ticket_digest(const unsigned char key[TICKET_DIGEST_LEN], const char *code, size_t len,
                  unsigned char out[TICKET_DIGEST_LEN]);
int ticket_digest_equal(const unsigned char *a, const unsigned char *b);

#endif
