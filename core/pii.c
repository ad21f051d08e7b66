/*
 * Personal data encryption at rest (AES-256-GCM) and keyed lookup hashes
 * (HMAC-SHA256). No I/O and no knowledge of which fields are personal; the
 * store decides what to seal.
 */
#include "core/pii.h"

#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "core/status.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define SHA256_BLOCK 64

_Static_assert(NONCE_LEN + TAG_LEN == PII_OVERHEAD, "PII_OVERHEAD is nonce + tag");

static const char label_enc[] = "kioskd pii enc v1";
static const char label_mac[] = "kioskd pii mac v1";

static int derive(const unsigned char master[32], const char *label, unsigned char out[32])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (md == NULL)
        return KIOSKD_ECRYPTO;
    return mbedtls_md_hmac(md, master, 32, (const unsigned char *)label, strlen(label), out) == 0
               ? 0
               : KIOSKD_ECRYPTO;
}

int pii_init(struct pii *p, const unsigned char master[32])
{
    unsigned char enc[32];
    int rc;

    memset(p, 0, sizeof *p);
    mbedtls_gcm_init(&p->gcm);
    rc = derive(master, label_enc, enc);
    if (rc != 0)
        goto out;
    rc = derive(master, label_mac, p->mac_key);
    if (rc != 0)
        goto out;
    if (mbedtls_gcm_setkey(&p->gcm, MBEDTLS_CIPHER_ID_AES, enc, 256) != 0) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
out:
    mbedtls_platform_zeroize(enc, sizeof enc);
    if (rc != 0)
        mbedtls_platform_zeroize(p->mac_key, sizeof p->mac_key);
    return rc;
}

void pii_free(struct pii *p)
{
    if (p == NULL)
        return;
    mbedtls_gcm_free(&p->gcm); /* wipes the AES key schedule */
    mbedtls_platform_zeroize(p, sizeof *p);
}

int pii_seal(struct pii *p, struct rng *rng, const char *aad, const void *plain, size_t len,
             unsigned char *out, size_t cap, size_t *outlen)
{
    int rc;
    *outlen = 0;
    if (aad == NULL || (plain == NULL && len > 0))
        return KIOSKD_EINVAL;
    if (cap < PII_OVERHEAD || len > cap - PII_OVERHEAD)
        return KIOSKD_ETOOBIG;
    rc = rng_bytes(rng, out, NONCE_LEN);
    if (rc != 0)
        return rc;
    if (mbedtls_gcm_crypt_and_tag(&p->gcm, MBEDTLS_GCM_ENCRYPT, len, out, NONCE_LEN,
                                  (const unsigned char *)aad, strlen(aad), plain, out + NONCE_LEN,
                                  TAG_LEN, out + NONCE_LEN + len) != 0) {
        mbedtls_platform_zeroize(out, len + PII_OVERHEAD);
        return KIOSKD_ECRYPTO;
    }
    *outlen = len + PII_OVERHEAD;
    return 0;
}

int pii_open(struct pii *p, const char *aad, const unsigned char *in, size_t len, char *out,
             size_t cap, size_t *outlen)
{
    size_t plen;
    *outlen = 0;
    if (cap > 0)
        out[0] = '\0';
    if (aad == NULL || (in == NULL && len > 0))
        return KIOSKD_EINVAL;
    if (len < PII_OVERHEAD)
        return KIOSKD_ECRYPTO;
    plen = len - PII_OVERHEAD;
    if (cap == 0 || plen > cap - 1)
        return KIOSKD_ETOOBIG;
    if (mbedtls_gcm_auth_decrypt(&p->gcm, plen, in, NONCE_LEN, (const unsigned char *)aad,
                                 strlen(aad), in + NONCE_LEN + plen, TAG_LEN, in + NONCE_LEN,
                                 (unsigned char *)out) != 0) {
        mbedtls_platform_zeroize(out, cap);
        return KIOSKD_ECRYPTO;
    }
    out[plen] = '\0';
    *outlen = plen;
    return 0;
}

/* HMAC (RFC 2104) over mbedTLS' SHA-256 directly: unlike mbedtls_md_hmac it
 * allocates nothing, so a lookup hash cannot fail for want of memory. */
int pii_hash(const struct pii *p, const char *s, size_t len, unsigned char out[PII_HASH_LEN])
{
    unsigned char pad[SHA256_BLOCK], inner[32];
    mbedtls_sha256_context c;
    int ret;

    mbedtls_sha256_init(&c);
    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < sizeof p->mac_key; i++)
        pad[i] ^= p->mac_key[i];
    ret = mbedtls_sha256_starts_ret(&c, 0);
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, pad, sizeof pad);
    if (ret == 0 && len > 0)
        ret = mbedtls_sha256_update_ret(&c, (const unsigned char *)s, len);
    if (ret == 0)
        ret = mbedtls_sha256_finish_ret(&c, inner);
    if (ret != 0)
        goto out;

    memset(pad, 0x5c, sizeof pad);
    for (size_t i = 0; i < sizeof p->mac_key; i++)
        pad[i] ^= p->mac_key[i];
    ret = mbedtls_sha256_starts_ret(&c, 0);
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, pad, sizeof pad);
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, inner, sizeof inner);
    if (ret == 0)
        ret = mbedtls_sha256_finish_ret(&c, out);
out:
    mbedtls_sha256_free(&c);
    mbedtls_platform_zeroize(pad, sizeof pad);
    mbedtls_platform_zeroize(inner, sizeof inner);
    if (ret != 0) {
        mbedtls_platform_zeroize(out, PII_HASH_LEN);
        return KIOSKD_ECRYPTO;
    }
    return 0;
}
