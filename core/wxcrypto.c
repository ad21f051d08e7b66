/*
 * WeChat message crypto: signatures (SHA-1 over sorted parts) and safe-mode
 * AES-256-CBC. The format is described in core/wxcrypto.h and docs/wechat.md.
 * Not for XML, HTTP or the choice of random bytes, which are the caller's.
 *
 * The envelope's base64 (ciphertext, no secret) is libwebsockets' coder: a
 * table lookup per character, where mbedTLS' constant-time one (kept for
 * the key) cost a tenth of a safe-mode message.
 */
#include "core/wxcrypto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <mbedtls/aes.h>
#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>

#include "core/status.h"

#define BLOCK 32  /* WeChat pads to 32 bytes, not to the AES block */
#define HEADER 20 /* random bytes and the length field */
#define PLAIN_MAX (HEADER + WX_MSG_MAX + WX_APPID_MAX + BLOCK)
#define CIPHER_MAX (PLAIN_MAX / BLOCK * BLOCK)

_Static_assert(WX_ENCRYPT_MAX == (CIPHER_MAX + 2) / 3 * 4, "WX_ENCRYPT_MAX encodes CIPHER_MAX");
_Static_assert(WX_RANDOM_BYTES + 4 == HEADER, "the header is the random bytes and a be32");

struct part {
    const char *p;
    size_t n;
};

/* Byte-wise order, a prefix first: strcmp's order, and the order of the
 * code points the other implementations sort by. */
static int part_cmp(const struct part *a, const struct part *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n > 0 ? memcmp(a->p, b->p, n) : 0;
    if (c != 0)
        return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* SHA-1 hex of the sorted concatenation of parts[0..n). */
static int sorted_sha1_hex(struct part *parts, size_t n, char out[WX_SIG_HEX + 1])
{
    static const char hex[] = "0123456789abcdef";
    mbedtls_sha1_context ctx;
    unsigned char digest[20];
    int rc = KIOSKD_ECRYPTO;

    for (size_t i = 1; i < n; i++) {
        struct part t = parts[i];
        size_t j = i;
        for (; j > 0 && part_cmp(&parts[j - 1], &t) > 0; j--)
            parts[j] = parts[j - 1];
        parts[j] = t;
    }
    mbedtls_sha1_init(&ctx);
    if (mbedtls_sha1_starts_ret(&ctx) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (mbedtls_sha1_update_ret(&ctx, (const unsigned char *)parts[i].p, parts[i].n) != 0)
            goto out;
    if (mbedtls_sha1_finish_ret(&ctx, digest) != 0)
        goto out;
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[WX_SIG_HEX] = '\0';
    rc = 0;
out:
    mbedtls_sha1_free(&ctx);
    return rc;
}

/* Fills *pt with s, refusing NULL and anything longer than max. */
static int part_set(struct part *pt, const char *s, size_t max)
{
    if (s == NULL)
        return KIOSKD_EINVAL;
    pt->p = s;
    pt->n = strnlen(s, max + 1);
    return pt->n > max ? KIOSKD_EINVAL : 0;
}

int wx_signature(const char *token, const char *timestamp, const char *nonce,
                 char out[WX_SIG_HEX + 1])
{
    struct part parts[3];
    if (part_set(&parts[0], token, WX_SIG_PART_MAX) != 0 ||
        part_set(&parts[1], timestamp, WX_SIG_PART_MAX) != 0 ||
        part_set(&parts[2], nonce, WX_SIG_PART_MAX) != 0)
        return KIOSKD_EINVAL;
    return sorted_sha1_hex(parts, 3, out);
}

int wx_msg_signature(const char *token, const char *timestamp, const char *nonce,
                     const char *encrypt, char out[WX_SIG_HEX + 1])
{
    struct part parts[4];
    if (part_set(&parts[0], token, WX_SIG_PART_MAX) != 0 ||
        part_set(&parts[1], timestamp, WX_SIG_PART_MAX) != 0 ||
        part_set(&parts[2], nonce, WX_SIG_PART_MAX) != 0 ||
        part_set(&parts[3], encrypt, WX_ENCRYPT_MAX) != 0)
        return KIOSKD_EINVAL;
    return sorted_sha1_hex(parts, 4, out);
}

int wx_sig_equal(const char *expected, const char *given, size_t given_len)
{
    if (expected == NULL || given == NULL)
        return 0;
    size_t n = strnlen(expected, WX_SIG_HEX + 1);
    if (n != WX_SIG_HEX || given_len != n)
        return 0;
    return mbedtls_ct_memcmp(expected, given, n) == 0;
}

static int is_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static unsigned b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (unsigned)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0' + 52);
    return c == '+' ? 62u : 63u;
}

int wx_key_load(struct wx_key *k, const char *s, size_t len)
{
    unsigned char text[WX_AES_KEY_CHARS + 1];
    unsigned char raw[WX_AES_KEY_BYTES + 3];
    size_t olen = 0;
    int rc = KIOSKD_EINVAL;

    memset(k, 0, sizeof *k);
    if (s == NULL || len != WX_AES_KEY_CHARS)
        return KIOSKD_EINVAL;
    /* The unused low bits of the last character are not checked: WeChat's
     * keys are 43 random characters, so they are seldom zero. */
    for (size_t i = 0; i < len; i++) {
        if (!is_b64_char((unsigned char)s[i]))
            goto out;
        text[i] = (unsigned char)s[i];
    }
    text[WX_AES_KEY_CHARS] = '=';
    if (mbedtls_base64_decode(raw, sizeof raw, &olen, text, sizeof text) != 0 ||
        olen != WX_AES_KEY_BYTES)
        goto out;
    memcpy(k->key, raw, WX_AES_KEY_BYTES);
    rc = 0;
out:
    mbedtls_platform_zeroize(text, sizeof text);
    mbedtls_platform_zeroize(raw, sizeof raw);
    return rc;
}

void wx_key_wipe(struct wx_key *k)
{
    if (k != NULL)
        mbedtls_platform_zeroize(k->key, sizeof k->key);
}

static int aes_cbc(const struct wx_key *k, int mode, const unsigned char *in, unsigned char *out,
                   size_t n)
{
    mbedtls_aes_context aes;
    unsigned char iv[16];
    int ret;

    mbedtls_aes_init(&aes);
    memcpy(iv, k->key, sizeof iv);
    if (mode == MBEDTLS_AES_ENCRYPT)
        ret = mbedtls_aes_setkey_enc(&aes, k->key, WX_AES_KEY_BYTES * 8);
    else
        ret = mbedtls_aes_setkey_dec(&aes, k->key, WX_AES_KEY_BYTES * 8);
    if (ret == 0)
        ret = mbedtls_aes_crypt_cbc(&aes, mode, n, iv, in, out);
    mbedtls_aes_free(&aes); /* wipes the key schedule */
    mbedtls_platform_zeroize(iv, sizeof iv);
    return ret == 0 ? 0 : KIOSKD_ECRYPTO;
}

int wx_encrypt(const struct wx_key *k, const char *appid,
               const unsigned char random[WX_RANDOM_BYTES], const char *msg, size_t len,
               struct buf *out)
{
    unsigned char *plain = NULL, *cipher = NULL, *text = NULL;
    size_t alen, total = 0, tlen = 0;
    int rc;

    if (appid == NULL || (alen = strnlen(appid, WX_APPID_MAX + 1)) == 0 || alen > WX_APPID_MAX)
        return KIOSKD_EINVAL;
    if (len > WX_MSG_MAX)
        return KIOSKD_ETOOBIG;
    if (msg == NULL && len > 0)
        return KIOSKD_EINVAL;
    total = HEADER + len + alen;
    size_t pad = BLOCK - total % BLOCK; /* 1..32: a whole block when already aligned */
    total += pad;

    plain = malloc(total);
    cipher = malloc(total);
    if (plain == NULL || cipher == NULL) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    memcpy(plain, random, WX_RANDOM_BYTES);
    plain[16] = (unsigned char)(len >> 24);
    plain[17] = (unsigned char)(len >> 16);
    plain[18] = (unsigned char)(len >> 8);
    plain[19] = (unsigned char)len;
    if (len > 0)
        memcpy(plain + HEADER, msg, len);
    memcpy(plain + HEADER + len, appid, alen);
    memset(plain + total - pad, (int)pad, pad);
    rc = aes_cbc(k, MBEDTLS_AES_ENCRYPT, plain, cipher, total);
    if (rc != 0)
        goto out;

    tlen = (total + 2) / 3 * 4 + 2; /* libwebsockets wants a byte past the NUL */
    text = malloc(tlen);
    if (text == NULL) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    int olen = lws_b64_encode_string((const char *)cipher, (int)total, (char *)text, (int)tlen);
    if (olen != (int)(tlen - 2)) {
        rc = KIOSKD_ECRYPTO;
        goto out;
    }
    rc = buf_append(out, text, (size_t)olen);
out:
    if (plain != NULL) {
        mbedtls_platform_zeroize(plain, total);
        free(plain);
    }
    free(cipher);
    free(text);
    return rc;
}

/*
 * Refuses anything but canonical base64: a length that is a multiple of 4,
 * only the alphabet, '=' only as the last one or two characters, and zero
 * unused bits before the padding (mbedTLS does not check those, and the
 * signature is over the text, so one ciphertext has one spelling).
 */
static int b64_canonical(const unsigned char *s, size_t n)
{
    size_t eq = 0;
    if (n == 0 || n % 4 != 0)
        return 0;
    if (s[n - 1] == '=')
        eq = s[n - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < n - eq; i++)
        if (!is_b64_char(s[i]))
            return 0;
    if (eq == 2)
        return (b64_value(s[n - 3]) & 15u) == 0;
    if (eq == 1)
        return (b64_value(s[n - 2]) & 3u) == 0;
    return 1;
}

int wx_decrypt(const struct wx_key *k, const char *appid, const char *b64, size_t len,
               struct buf *msg)
{
    unsigned char *cipher = NULL, *plain = NULL;
    size_t alen, clen = 0;
    int rc;

    if (appid == NULL || (alen = strnlen(appid, WX_APPID_MAX + 1)) == 0 || alen > WX_APPID_MAX)
        return KIOSKD_EINVAL;
    if (b64 == NULL)
        return KIOSKD_EMALFORMED;
    if (len > WX_ENCRYPT_MAX)
        return KIOSKD_ETOOBIG;
    if (!b64_canonical((const unsigned char *)b64, len))
        return KIOSKD_EMALFORMED;

    size_t cap = len / 4 * 3;
    cipher = malloc(cap + 4); /* libwebsockets stops short without 3 spare bytes */
    plain = malloc(cap);
    if (cipher == NULL || plain == NULL) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    /* canonical (above): exactly cap less the padding's bytes */
    clen = cap - (b64[len - 1] == '=') - (b64[len - 2] == '=');
    int got = lws_b64_decode_string_len(b64, (int)len, (char *)cipher, (int)cap + 4);
    if (got < 0 || (size_t)got != clen || clen % 16 != 0 || clen < BLOCK) {
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    rc = aes_cbc(k, MBEDTLS_AES_DECRYPT, cipher, plain, clen);
    if (rc != 0)
        goto out;

    /* PKCS#7 with WeChat's 32-byte blocks: the last byte p is 1..32 and the
     * last p bytes all equal p. Checked without branching on the bytes. */
    unsigned p = plain[clen - 1];
    unsigned bad = (unsigned)(p == 0) | (unsigned)(p > BLOCK);
    for (unsigned i = 0; i < BLOCK; i++) {
        unsigned in_pad = (unsigned)(i < p);
        bad |= in_pad & (unsigned)(plain[clen - 1 - i] != p);
    }
    if (bad) {
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    size_t content = clen - p;
    if (content < HEADER) {
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    uint32_t n = (uint32_t)plain[16] << 24 | (uint32_t)plain[17] << 16 | (uint32_t)plain[18] << 8 |
                 (uint32_t)plain[19];
    if (n > content - HEADER) {
        rc = KIOSKD_EMALFORMED;
        goto out;
    }
    size_t rest = content - HEADER - n;
    if (rest != alen || mbedtls_ct_memcmp(plain + HEADER + n, appid, alen) != 0) {
        rc = KIOSKD_EAUTH;
        goto out;
    }
    rc = buf_append(msg, plain + HEADER, n);
out:
    if (plain != NULL) {
        mbedtls_platform_zeroize(plain, cap);
        free(plain);
    }
    free(cipher);
    return rc;
}
