/*
 * Signed QR tickets: encoding, ECDSA P-256 signing and verification. The
 * format is described in core/ticket.h. Not for key files (daemon/keys.c) or
 * ticket state (issued, checked in, revoked), which live in the store.
 */
#include "core/ticket.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "core/status.h"

#define TICKET_VERSION 1
#define PAYLOAD_BYTES 25 /* version, then three 8-byte numbers */
#define PAYLOAD_CHARS 34
#define SIG_BYTES 64 /* r || s */
#define SIG_CHARS 86
#define KID_BYTES 6
#define SCALAR_BYTES 32
#define PEM_MAX_IN 16384 /* a P-256 key PEM is a few hundred bytes */
#define PEM_DER_MAX 256  /* DER of a P-256 private key is 121 bytes, public 91 */

static const char prefix[] = "K1.";
#define PREFIX_LEN (sizeof prefix - 1)

_Static_assert(PREFIX_LEN + TICKET_KID_LEN + 1 + PAYLOAD_CHARS + 1 + SIG_CHARS == TICKET_CODE_LEN,
               "TICKET_CODE_LEN matches the parts");
_Static_assert(TICKET_CODE_LEN <= TICKET_CODE_MAX, "a code fits TICKET_CODE_MAX");

/* Longest input of the base64url helpers; the largest part is the signature. */
#define B64_MAX_BYTES 66
#define B64_MAX_CHARS 88

/*
 * Writes src as base64url without padding into dst (not NUL-terminated);
 * returns the number of characters, or 0 if src is empty, too long or dst
 * too small.
 */
static size_t b64url_encode(const unsigned char *src, size_t n, char *dst, size_t cap)
{
    unsigned char tmp[B64_MAX_CHARS + 4];
    size_t olen = 0;
    if (n == 0 || n > B64_MAX_BYTES)
        return 0;
    if (mbedtls_base64_encode(tmp, sizeof tmp, &olen, src, n) != 0)
        return 0;
    while (olen > 0 && tmp[olen - 1] == '=')
        olen--;
    if (olen > cap)
        return 0;
    for (size_t i = 0; i < olen; i++) {
        unsigned char c = tmp[i];
        dst[i] = (char)(c == '+' ? '-' : c == '/' ? '_' : c);
    }
    return olen;
}

/*
 * Decodes exactly `want` bytes from the base64url text src[0..n) into dst.
 * Refuses anything but the canonical encoding: characters outside the url
 * alphabet (so padding, '+', '/', whitespace and '.'), a length that is not
 * the one `want` bytes encode to, and non-zero unused trailing bits (checked
 * by encoding again and comparing). Returns 0 or KIOSKD_EMALFORMED.
 */
static int b64url_decode_exact(const char *src, size_t n, unsigned char *dst, size_t want)
{
    unsigned char tmp[B64_MAX_CHARS + 4];
    unsigned char out[B64_MAX_BYTES];
    char again[B64_MAX_CHARS];
    size_t olen = 0, i;

    if (want == 0 || want > B64_MAX_BYTES || n != (want * 4 + 2) / 3)
        return KIOSKD_EMALFORMED;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            tmp[i] = c;
        else if (c == '-')
            tmp[i] = '+';
        else if (c == '_')
            tmp[i] = '/';
        else
            return KIOSKD_EMALFORMED;
    }
    while (i % 4 != 0)
        tmp[i++] = '=';
    if (mbedtls_base64_decode(out, sizeof out, &olen, tmp, i) != 0 || olen != want)
        return KIOSKD_EMALFORMED;
    if (b64url_encode(out, olen, again, sizeof again) != n || memcmp(again, src, n) != 0)
        return KIOSKD_EMALFORMED;
    memcpy(dst, out, want);
    return 0;
}

static void put_be64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get_be64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    if (u <= (uint64_t)INT64_MAX)
        return (int64_t)u;
    /* two's complement, without the implementation-defined out-of-range cast */
    return -(int64_t)(UINT64_MAX - u) - 1;
}

static int map_mbedtls(int ret)
{
    if (ret == MBEDTLS_ERR_MPI_ALLOC_FAILED || ret == MBEDTLS_ERR_ECP_ALLOC_FAILED ||
        ret == MBEDTLS_ERR_PK_ALLOC_FAILED)
        return KIOSKD_ENOMEM;
    return KIOSKD_ECRYPTO;
}

/* The key's EC context if it is a P-256 key, else NULL. */
static mbedtls_ecp_keypair *key_ec(const struct ticket_key *k)
{
    /* mbedtls_pk_ec hands out a mutable pointer from a const context: the ECP
     * group caches tables in it, which is why a key is one thread's at a time. */
    if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_ECKEY)
        return NULL;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    if (ec == NULL || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
        return NULL;
    return ec;
}

/* kid = base64url(SHA-256(uncompressed public point)[0..6)). */
static int key_set_kid(struct ticket_key *k)
{
    unsigned char point[1 + 2 * SCALAR_BYTES], hash[32];
    size_t olen = 0;
    int ret;
    mbedtls_ecp_keypair *ec = key_ec(k);
    if (ec == NULL)
        return KIOSKD_EINVAL;
    ret = mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                         point, sizeof point);
    if (ret != 0 || olen != sizeof point)
        return KIOSKD_ECRYPTO;
    if (mbedtls_sha256_ret(point, sizeof point, hash, 0) != 0)
        return KIOSKD_ECRYPTO;
    if (b64url_encode(hash, KID_BYTES, k->kid, TICKET_KID_LEN) != TICKET_KID_LEN)
        return KIOSKD_ECRYPTO;
    k->kid[TICKET_KID_LEN] = '\0';
    return 0;
}

int ticket_key_generate(struct ticket_key *k, struct rng *rng)
{
    int ret, rc;
    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
    ret = mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk), rng_mbedtls, rng);
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    k->has_private = 1;
    rc = key_set_kid(k);
out:
    if (rc != 0)
        ticket_key_free(k);
    return rc;
}

int ticket_key_load_pem(struct ticket_key *k, const char *pem, size_t len)
{
    unsigned char *copy = NULL;
    int ret, rc;

    memset(k, 0, sizeof *k);
    mbedtls_pk_init(&k->pk);
    if (len > 0 && pem[len - 1] == '\0')
        len--;
    if (len == 0 || memchr(pem, '\0', len) != NULL) {
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    if (len > PEM_MAX_IN) {
        rc = KIOSKD_ETOOBIG;
        goto out;
    }
    /* mbedTLS reads PEM only from NUL-terminated text. */
    copy = malloc(len + 1);
    if (copy == NULL) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    memcpy(copy, pem, len);
    copy[len] = '\0';
    if (strstr((const char *)copy, "-----BEGIN ") == NULL) { /* it would take DER as well */
        rc = KIOSKD_EMALFORMED;
        goto out;
    }

    ret = mbedtls_pk_parse_key(&k->pk, copy, len + 1, NULL, 0);
    if (ret == 0) {
        k->has_private = 1;
    } else {
        mbedtls_pk_free(&k->pk);
        mbedtls_pk_init(&k->pk);
        ret = mbedtls_pk_parse_public_key(&k->pk, copy, len + 1);
    }
    if (ret != 0) {
        rc = ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? KIOSKD_ENOMEM : KIOSKD_EMALFORMED;
        goto out;
    }
    if (key_ec(k) == NULL) {
        rc = KIOSKD_EINVAL;
        goto out;
    }
    /* A private key file may carry a public point of its own; it must be d*G,
     * or we would sign under one key and name another in the kid. */
    if (k->has_private && mbedtls_pk_check_pair(&k->pk, &k->pk) != 0) {
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    rc = key_set_kid(k);
out:
    if (copy != NULL) {
        mbedtls_platform_zeroize(copy, len + 1);
        free(copy);
    }
    if (rc != 0)
        ticket_key_free(k);
    return rc;
}

/* Appends n bytes at *pos in out[0..cap); 0 or KIOSKD_ETOOBIG. */
static int put(char *out, size_t cap, size_t *pos, const void *s, size_t n)
{
    if (n > cap - *pos)
        return KIOSKD_ETOOBIG;
    memcpy(out + *pos, s, n);
    *pos += n;
    return 0;
}

int ticket_key_write_pem(const struct ticket_key *k, int private_part, char *out, size_t outlen)
{
    static const char prv_begin[] = "-----BEGIN EC PRIVATE KEY-----\n";
    static const char prv_end[] = "-----END EC PRIVATE KEY-----\n";
    static const char pub_begin[] = "-----BEGIN PUBLIC KEY-----\n";
    static const char pub_end[] = "-----END PUBLIC KEY-----\n";
    unsigned char der[PEM_DER_MAX];
    size_t pos = 0;
    int ret, rc;
    /* mbedTLS 2.28 wants a mutable context to write; a shallow copy avoids a cast. */
    mbedtls_pk_context pk = k->pk;

    if (outlen == 0)
        return KIOSKD_ETOOBIG;
    out[0] = '\0';
    if (key_ec(k) == NULL || (private_part && !k->has_private))
        return KIOSKD_EINVAL;
    /* PEM by hand rather than mbedtls_pk_write_key_pem, so that every buffer
     * that holds the key is ours to wipe. DER is written at the end of der. */
    ret = private_part ? mbedtls_pk_write_key_der(&pk, der, sizeof der)
                       : mbedtls_pk_write_pubkey_der(&pk, der, sizeof der);
    if (ret <= 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    const unsigned char *p = der + sizeof der - (size_t)ret;
    size_t left = (size_t)ret;
    rc = put(out, outlen, &pos, private_part ? prv_begin : pub_begin,
             private_part ? sizeof prv_begin - 1 : sizeof pub_begin - 1);
    while (rc == 0 && left > 0) {
        size_t chunk = left < 48 ? left : 48; /* 64 characters a line */
        size_t olen = 0;
        if (mbedtls_base64_encode((unsigned char *)out + pos, outlen - pos, &olen, p, chunk) != 0) {
            rc = KIOSKD_ETOOBIG;
            break;
        }
        pos += olen;
        p += chunk;
        left -= chunk;
        rc = put(out, outlen, &pos, "\n", 1);
    }
    if (rc == 0)
        rc = put(out, outlen, &pos, private_part ? prv_end : pub_end,
                 private_part ? sizeof prv_end - 1 : sizeof pub_end - 1);
    if (rc == 0)
        rc = put(out, outlen, &pos, "", 1);
out:
    mbedtls_platform_zeroize(der, sizeof der);
    if (rc != 0)
        mbedtls_platform_zeroize(out, outlen);
    return rc;
}

void ticket_key_free(struct ticket_key *k)
{
    if (k == NULL)
        return;
    mbedtls_pk_free(&k->pk); /* mbedTLS wipes the private scalar */
    mbedtls_platform_zeroize(k, sizeof *k);
}

/* half = (n - 1) / 2 for the key's curve: the largest s accepted. */
static int half_order(const mbedtls_ecp_group *grp, mbedtls_mpi *half)
{
    int ret = mbedtls_mpi_copy(half, &grp->N);
    if (ret == 0)
        ret = mbedtls_mpi_shift_r(half, 1);
    return ret;
}

int ticket_sign(const struct ticket_key *k, struct rng *rng, const struct ticket_payload *p,
                char *out, size_t outlen)
{
    unsigned char payload[PAYLOAD_BYTES], hash[32], sig[SIG_BYTES];
    mbedtls_mpi r, s, half;
    size_t pos = 0;
    int ret, rc;
    mbedtls_ecp_keypair *ec = key_ec(k);

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_mpi_init(&half);
    if (outlen > 0)
        out[0] = '\0';
    if (ec == NULL || !k->has_private || p == NULL) {
        rc = KIOSKD_EINVAL;
        goto out;
    }
    if (outlen < TICKET_CODE_LEN + 1) {
        rc = KIOSKD_ETOOBIG;
        goto out;
    }

    payload[0] = TICKET_VERSION;
    put_be64(payload + 1, p->event_id);
    put_be64(payload + 9, p->signup_id);
    put_be64(payload + 17, p->issued_at);

    memcpy(out, prefix, PREFIX_LEN);
    pos = PREFIX_LEN;
    memcpy(out + pos, k->kid, TICKET_KID_LEN);
    pos += TICKET_KID_LEN;
    out[pos++] = '.';
    if (b64url_encode(payload, sizeof payload, out + pos, PAYLOAD_CHARS) != PAYLOAD_CHARS) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
    pos += PAYLOAD_CHARS;

    if (mbedtls_sha256_ret((const unsigned char *)out, pos, hash, 0) != 0) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
    /* RFC 6979: the nonce comes from the key and the hash; rng only blinds. */
    ret = mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, sizeof hash, MBEDTLS_MD_SHA256,
                                     rng_mbedtls, rng);
    if (ret == 0)
        ret = half_order(&ec->grp, &half);
    /* (r, n - s) verifies as well; always pick the low s so a code is unique. */
    if (ret == 0 && mbedtls_mpi_cmp_mpi(&s, &half) > 0)
        ret = mbedtls_mpi_sub_mpi(&s, &ec->grp.N, &s);
    if (ret == 0)
        ret = mbedtls_mpi_write_binary(&r, sig, SCALAR_BYTES);
    if (ret == 0)
        ret = mbedtls_mpi_write_binary(&s, sig + SCALAR_BYTES, SCALAR_BYTES);
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }
    out[pos++] = '.';
    if (b64url_encode(sig, sizeof sig, out + pos, SIG_CHARS) != SIG_CHARS) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
    pos += SIG_CHARS;
    out[pos] = '\0';
    rc = 0;
out:
    if (rc != 0 && outlen > 0)
        out[0] = '\0';
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&half);
    return rc;
}

/* A code's parts: kid (TICKET_KID_LEN characters at code + 3), decoded
 * payload and signature, and the length of the signed text K1.<kid>.<payload>. */
struct code_parts {
    const char *kid;
    unsigned char payload[PAYLOAD_BYTES];
    unsigned char sig[SIG_BYTES];
    size_t signed_len;
};

/* Splits code[0..len) (nothing read at or past code + len). Returns 0 or
 * KIOSKD_EMALFORMED. */
static int split_code(const char *code, size_t len, struct code_parts *p)
{
    unsigned char kid_bytes[KID_BYTES];
    const char *kid, *pl, *sg, *dot;
    size_t kid_len, pl_len, sg_len;

    if (code == NULL || len > TICKET_CODE_MAX || len < PREFIX_LEN ||
        memcmp(code, prefix, PREFIX_LEN) != 0)
        return KIOSKD_EMALFORMED;
    kid = code + PREFIX_LEN;
    dot = memchr(kid, '.', len - PREFIX_LEN);
    if (dot == NULL)
        return KIOSKD_EMALFORMED;
    kid_len = (size_t)(dot - kid);
    pl = dot + 1;
    dot = memchr(pl, '.', (size_t)(code + len - pl));
    if (dot == NULL)
        return KIOSKD_EMALFORMED;
    pl_len = (size_t)(dot - pl);
    sg = dot + 1;
    sg_len = (size_t)(code + len - sg); /* a further '.' fails the alphabet check */
    if (b64url_decode_exact(kid, kid_len, kid_bytes, sizeof kid_bytes) != 0 ||
        b64url_decode_exact(pl, pl_len, p->payload, sizeof p->payload) != 0 ||
        b64url_decode_exact(sg, sg_len, p->sig, sizeof p->sig) != 0)
        return KIOSKD_EMALFORMED;
    if (p->payload[0] != TICKET_VERSION)
        return KIOSKD_EMALFORMED;
    p->kid = kid;
    p->signed_len = (size_t)(dot - code);
    return 0;
}

static void payload_read(const unsigned char *payload, struct ticket_payload *out)
{
    out->event_id = get_be64(payload + 1);
    out->signup_id = get_be64(payload + 9);
    out->issued_at = get_be64(payload + 17);
}

int ticket_verify(const struct ticket_keyring *ring, const char *code, size_t len,
                  struct ticket_payload *out)
{
    struct code_parts parts;
    unsigned char hash[32];
    mbedtls_mpi r, s, half;
    int ret, rc, known = 0;

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_mpi_init(&half);
    if (ring == NULL || ring->n < 0 || ring->n > TICKET_KEYRING_MAX || out == NULL) {
        rc = KIOSKD_EINVAL;
        goto out;
    }

    /* Shape: K1.<kid>.<payload>.<sig>, nothing read at or past code + len. */
    if ((rc = split_code(code, len, &parts)) != 0)
        goto out;

    if (mbedtls_sha256_ret((const unsigned char *)code, parts.signed_len, hash, 0) != 0) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
    ret = mbedtls_mpi_read_binary(&r, parts.sig, SCALAR_BYTES);
    if (ret == 0)
        ret = mbedtls_mpi_read_binary(&s, parts.sig + SCALAR_BYTES, SCALAR_BYTES);
    if (ret != 0) {
        rc = map_mbedtls(ret);
        goto out;
    }

    /* Kids are 48 bits, so two keys may share one: try every key that matches. */
    for (int i = 0; i < ring->n; i++) {
        const struct ticket_key *k = ring->keys[i];
        mbedtls_ecp_keypair *ec;
        if (k == NULL || memcmp(k->kid, parts.kid, TICKET_KID_LEN) != 0 || (ec = key_ec(k)) == NULL)
            continue;
        known = 1;
        ret = half_order(&ec->grp, &half);
        if (ret != 0) {
            rc = map_mbedtls(ret);
            goto out;
        }
        if (mbedtls_mpi_cmp_mpi(&s, &half) > 0)
            continue; /* the high s twin of a valid signature: not ours */
        ret = mbedtls_ecdsa_verify(&ec->grp, hash, sizeof hash, &ec->Q, &r, &s);
        if (ret == 0) {
            payload_read(parts.payload, out);
            rc = 0;
            goto out;
        }
        if (ret == MBEDTLS_ERR_MPI_ALLOC_FAILED || ret == MBEDTLS_ERR_ECP_ALLOC_FAILED) {
            rc = KIOSKD_ENOMEM;
            goto out;
        }
    }
    rc = known ? KIOSKD_EBADSIG : KIOSKD_ENOTFOUND;
out:
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&half);
    return rc;
}

int ticket_parse(const char *code, size_t len, struct ticket_payload *out,
                 char kid[TICKET_KID_LEN + 1])
{
    struct code_parts parts;
    int rc = split_code(code, len, &parts);
    if (rc)
        return rc;
    payload_read(parts.payload, out);
    memcpy(kid, parts.kid, TICKET_KID_LEN);
    kid[TICKET_KID_LEN] = '\0';
    return 0;
}

static int hmac_sha256(const unsigned char *key, size_t keylen, const void *msg, size_t len,
                       unsigned char out[TICKET_DIGEST_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    int ret = md ? mbedtls_md_hmac(md, key, keylen, msg, len, out) : MBEDTLS_ERR_MD_BAD_INPUT_DATA;
    if (ret == 0)
        return 0;
    mbedtls_platform_zeroize(out, TICKET_DIGEST_LEN);
    return ret == MBEDTLS_ERR_MD_ALLOC_FAILED ? KIOSKD_ENOMEM : KIOSKD_ECRYPTO;
}

int ticket_digest_key(const struct ticket_key *k, unsigned char out[TICKET_DIGEST_LEN])
{
    static const char label[] = "kioskd ticket digest v1";
    unsigned char d[SCALAR_BYTES];
    mbedtls_ecp_keypair *ec = k && k->has_private ? key_ec(k) : NULL;
    if (ec == NULL)
        return KIOSKD_EINVAL;
    if (mbedtls_mpi_write_binary(&ec->d, d, sizeof d) != 0)
        return KIOSKD_ECRYPTO;
    int rc = hmac_sha256(d, sizeof d, label, sizeof label - 1, out);
    mbedtls_platform_zeroize(d, sizeof d);
    return rc;
}

int ticket_digest(const unsigned char key[TICKET_DIGEST_LEN], const char *code, size_t len,
                  unsigned char out[TICKET_DIGEST_LEN])
{
    if (code == NULL || len == 0 || len > TICKET_CODE_MAX)
        return KIOSKD_EINVAL;
    return hmac_sha256(key, TICKET_DIGEST_LEN, code, len, out);
}

int ticket_digest_equal(const unsigned char *a, const unsigned char *b)
{
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < TICKET_DIGEST_LEN; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
