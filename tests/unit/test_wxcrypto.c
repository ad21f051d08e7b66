/*
 * WeChat message crypto: every case of the shared conformance vectors (read
 * at run time; a missing file fails the test), the protocol's published URL
 * verification example, round trips, and each refusal: wrong signatures,
 * wrong appids, truncated or misaligned ciphertext, every bad padding byte,
 * length fields past the data, bad base64 and keys of the wrong shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <mbedtls/aes.h>
#include <mbedtls/base64.h>

#include "core/buf.h"
#include "core/status.h"
#include "core/wxcrypto.h"
#include "core/wxmsg.h"

#define VECTORS_FILE "wechat-crypto-vectors.json"

static const char key43[] = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
static const char appid[] = "wx49f0ab532d5d035a";
static const unsigned char rnd[WX_RANDOM_BYTES] = "0123456789abcdef";

/* The vectors live beside the repository (../shared/conformance/, as seen
 * from its root, where tests run); KIOSKD_CONFORMANCE names the folder. */
static json_t *load_vectors(void)
{
    const char *dir = getenv("KIOSKD_CONFORMANCE");
    char path[4096];
    json_error_t err;
    if (dir == NULL || dir[0] == '\0')
        dir = "../shared/conformance";
    int n = snprintf(path, sizeof path, "%s/%s", dir, VECTORS_FILE);
    assert_true(n > 0 && (size_t)n < sizeof path);
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL)
        fail_msg("cannot read the conformance vectors %s: %s (set KIOSKD_CONFORMANCE)", path,
                 err.text);
    return root;
}

static const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (s == NULL)
        fail_msg("vector field %s is missing", key);
    return s;
}

static void load_key(struct wx_key *k, const char *s)
{
    assert_int_equal(wx_key_load(k, s, strlen(s)), 0);
}

static void test_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *cases = json_object_get(root, "cases");
    size_t i;
    json_t *c;

    assert_true(json_array_size(cases) >= 3);
    json_array_foreach(cases, i, c)
    {
        struct wx_key k;
        struct buf enc, dec;
        char sig[WX_SIG_HEX + 1];
        const char *random = str(c, "random"), *msg = str(c, "msg"), *id = str(c, "appid");
        const char *expect_enc = str(c, "encrypt"), *expect_sig = str(c, "msg_signature");

        assert_int_equal(strlen(random), WX_RANDOM_BYTES);
        load_key(&k, str(c, "aes"));
        buf_init(&enc, WX_ENCRYPT_MAX);
        buf_init(&dec, WX_MSG_MAX);
        assert_int_equal(wx_encrypt(&k, id, (const unsigned char *)random, msg, strlen(msg), &enc),
                         0);
        assert_string_equal(enc.data, expect_enc);
        assert_int_equal(
            wx_msg_signature(str(c, "token"), str(c, "ts"), str(c, "nonce"), expect_enc, sig), 0);
        assert_string_equal(sig, expect_sig);
        assert_true(wx_sig_equal(sig, expect_sig, strlen(expect_sig)));
        assert_int_equal(wx_decrypt(&k, id, expect_enc, strlen(expect_enc), &dec), 0);
        assert_int_equal(dec.len, strlen(msg));
        if (dec.len > 0)
            assert_memory_equal(dec.data, msg, dec.len);
        /* the messages themselves go through the parser */
        if (dec.len > 0) {
            struct wx_msg m;
            assert_int_equal(wx_msg_parse(dec.data, dec.len, &m, NULL), 0);
            assert_string_equal(m.msg_type, "text");
            wx_msg_free(&m);
        }
        buf_free(&enc);
        buf_free(&dec);
        wx_key_wipe(&k);
    }
    json_decref(root);
}

static void test_url_verification(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *list = json_object_get(root, "url_verification");
    size_t i;
    json_t *c;

    assert_true(json_array_size(list) >= 1);
    json_array_foreach(list, i, c)
    {
        char sig[WX_SIG_HEX + 1];
        const char *want = str(c, "signature");
        assert_int_equal(wx_signature(str(c, "token"), str(c, "timestamp"), str(c, "nonce"), sig),
                         0);
        assert_string_equal(sig, want);
        assert_true(wx_sig_equal(sig, want, strlen(want)));
    }
    json_decref(root);
}

/* The order is byte-wise and independent of the argument order. */
static void test_signature_order(void **state)
{
    (void)state;
    char a[WX_SIG_HEX + 1], b[WX_SIG_HEX + 1], c[WX_SIG_HEX + 1];
    assert_int_equal(wx_signature("AAAAA", "1714036504", "1514711492", a), 0);
    assert_int_equal(wx_signature("1514711492", "AAAAA", "1714036504", b), 0);
    assert_int_equal(wx_signature("1714036504", "1514711492", "AAAAA", c), 0);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    /* a prefix sorts first: "ab" < "abc"; sha1("ababcb") */
    assert_int_equal(wx_signature("abc", "b", "ab", a), 0);
    assert_string_equal(a, "2baa12fd63b4e03817533c833ee8aef98c6baa02");
    assert_int_equal(wx_msg_signature("t", "1", "2", "", a), 0);
    assert_int_equal(wx_signature("t", "1", "2", b), 0);
    assert_string_equal(a, b); /* an empty part adds nothing */
    char longpart[WX_SIG_PART_MAX + 2];
    memset(longpart, '7', sizeof longpart - 1);
    longpart[sizeof longpart - 1] = '\0';
    assert_int_equal(wx_signature(longpart, "1", "2", a), KIOSKD_EINVAL);
    assert_int_equal(wx_signature(NULL, "1", "2", a), KIOSKD_EINVAL);
}

static void test_sig_equal_refusals(void **state)
{
    (void)state;
    char sig[WX_SIG_HEX + 1], bad[WX_SIG_HEX + 1];
    assert_int_equal(wx_signature("tok", "1700000000", "42", sig), 0);
    assert_true(wx_sig_equal(sig, sig, WX_SIG_HEX));
    for (size_t i = 0; i < WX_SIG_HEX; i++) {
        for (int d = 1; d < 16; d++) {
            static const char hex[] = "0123456789abcdef";
            memcpy(bad, sig, sizeof bad);
            const char *p = strchr(hex, sig[i]);
            assert_non_null(p);
            bad[i] = hex[((p - hex) + d) % 16];
            assert_false(wx_sig_equal(sig, bad, WX_SIG_HEX));
        }
    }
    for (size_t n = 0; n < WX_SIG_HEX; n++)
        assert_false(wx_sig_equal(sig, sig, n)); /* every prefix */
    memcpy(bad, sig, sizeof bad);
    for (size_t i = 0; i < WX_SIG_HEX; i++)
        if (bad[i] >= 'a')
            bad[i] = (char)(bad[i] - 'a' + 'A');
    if (strcmp(bad, sig) != 0)
        assert_false(wx_sig_equal(sig, bad, WX_SIG_HEX)); /* hex is lowercase */
    assert_false(wx_sig_equal(sig, NULL, 0));
    assert_false(wx_sig_equal(NULL, sig, WX_SIG_HEX));
    assert_false(wx_sig_equal("", "", 0));
    /* a wrong token, timestamp or nonce gives another signature */
    assert_int_equal(wx_signature("tok", "1700000001", "42", bad), 0);
    assert_false(wx_sig_equal(sig, bad, WX_SIG_HEX));
    assert_int_equal(wx_signature("tok2", "1700000000", "42", bad), 0);
    assert_false(wx_sig_equal(sig, bad, WX_SIG_HEX));
}

static void round_trip(const struct wx_key *k, const char *msg, size_t n)
{
    struct buf enc, dec;
    buf_init(&enc, WX_ENCRYPT_MAX);
    buf_init(&dec, WX_MSG_MAX);
    assert_int_equal(wx_encrypt(k, appid, rnd, msg, n, &enc), 0);
    assert_int_equal(enc.len % 4, 0);
    assert_int_equal(wx_decrypt(k, appid, enc.data, enc.len, &dec), 0);
    assert_int_equal(dec.len, n);
    if (n > 0)
        assert_memory_equal(dec.data, msg, n);
    buf_free(&enc);
    buf_free(&dec);
}

static void test_round_trips(void **state)
{
    (void)state;
    struct wx_key k;
    char msg[512];
    load_key(&k, key43);
    for (size_t n = 0; n <= 100; n++) {
        for (size_t i = 0; i < n; i++)
            msg[i] = (char)('a' + i % 26);
        round_trip(&k, msg, n);
    }
    /* 4-byte UTF-8 (U+1F600), 0..100 characters */
    for (size_t n = 0; n <= 100; n++) {
        for (size_t i = 0; i < n; i++)
            memcpy(msg + 4 * i, "\xf0\x9f\x98\x80", 4);
        round_trip(&k, msg, 4 * n);
    }
    /* every byte value, and the block edges of the 32-byte padding */
    for (size_t i = 0; i < 256; i++)
        msg[i] = (char)i;
    round_trip(&k, msg, 256);
    for (size_t n = 0; n < 64; n++)
        round_trip(&k, msg, 256 - n);
    wx_key_wipe(&k);
}

static void test_encrypt_limits(void **state)
{
    (void)state;
    struct wx_key k;
    struct buf out;
    char *big = calloc(1, WX_MSG_MAX + 1);
    assert_non_null(big);
    load_key(&k, key43);
    buf_init(&out, WX_ENCRYPT_MAX);
    memset(big, 'x', WX_MSG_MAX);
    assert_int_equal(wx_encrypt(&k, appid, rnd, big, WX_MSG_MAX, &out), 0);
    assert_true(out.len <= WX_ENCRYPT_MAX);
    struct buf dec;
    buf_init(&dec, WX_MSG_MAX);
    assert_int_equal(wx_decrypt(&k, appid, out.data, out.len, &dec), 0);
    assert_int_equal(dec.len, WX_MSG_MAX);
    buf_free(&dec);
    buf_reset(&out);
    assert_int_equal(wx_encrypt(&k, appid, rnd, big, WX_MSG_MAX + 1, &out), KIOSKD_ETOOBIG);
    assert_int_equal(wx_encrypt(&k, "", rnd, "x", 1, &out), KIOSKD_EINVAL);
    assert_int_equal(wx_encrypt(&k, NULL, rnd, "x", 1, &out), KIOSKD_EINVAL);
    char longid[WX_APPID_MAX + 2];
    memset(longid, 'w', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(wx_encrypt(&k, longid, rnd, "x", 1, &out), KIOSKD_EINVAL);
    assert_int_equal(out.len, 0);
    /* out's ceiling: refused, and what was there stays */
    struct buf small;
    buf_init(&small, 50);
    assert_int_equal(buf_puts(&small, "keep"), 0);
    assert_int_equal(wx_encrypt(&k, appid, rnd, "hello", 5, &small), KIOSKD_ETOOBIG);
    assert_string_equal(small.data, "keep");
    buf_free(&small);
    buf_free(&out);
    free(big);
    wx_key_wipe(&k);
}

static void test_key_refusals(void **state)
{
    (void)state;
    struct wx_key k;
    char s[64];
    assert_int_equal(wx_key_load(&k, key43, 42), KIOSKD_EINVAL);
    assert_int_equal(wx_key_load(&k, key43, 0), KIOSKD_EINVAL);
    assert_int_equal(wx_key_load(&k, NULL, 43), KIOSKD_EINVAL);
    snprintf(s, sizeof s, "%s=", key43);
    assert_int_equal(wx_key_load(&k, s, 44), KIOSKD_EINVAL);
    snprintf(s, sizeof s, "%sA", key43);
    assert_int_equal(wx_key_load(&k, s, 44), KIOSKD_EINVAL);
    const char bad_chars[] = "=-_ .\n\0\x80";
    for (size_t i = 0; i < sizeof bad_chars - 1; i++) {
        for (size_t pos = 0; pos < 43; pos += 21) {
            memcpy(s, key43, 44);
            s[pos] = bad_chars[i];
            assert_int_equal(wx_key_load(&k, s, 43), KIOSKD_EINVAL);
            for (size_t j = 0; j < sizeof k.key; j++)
                assert_int_equal(k.key[j], 0); /* nothing left behind */
        }
    }
    /* a good key decodes to 32 bytes; wiping clears them */
    assert_int_equal(wx_key_load(&k, key43, 43), 0);
    unsigned char raw[33];
    size_t olen = 0;
    snprintf(s, sizeof s, "%s=", key43);
    assert_int_equal(mbedtls_base64_decode(raw, sizeof raw, &olen, (const unsigned char *)s, 44),
                     0);
    assert_int_equal(olen, 32);
    assert_memory_equal(k.key, raw, 32);
    wx_key_wipe(&k);
    for (size_t j = 0; j < sizeof k.key; j++)
        assert_int_equal(k.key[j], 0);
    wx_key_wipe(NULL);
}

/* Encrypts plain[0..n) (n a multiple of 16) the way WeChat does, without
 * the module under test, and returns its base64 (caller frees). */
static char *seal_raw(const struct wx_key *k, const unsigned char *plain, size_t n)
{
    mbedtls_aes_context aes;
    unsigned char iv[16];
    unsigned char *c = malloc(n > 0 ? n : 1);
    size_t cap = (n + 2) / 3 * 4 + 1, olen = 0;
    char *out = malloc(cap);
    assert_non_null(c);
    assert_non_null(out);
    assert_int_equal(n % 16, 0);
    mbedtls_aes_init(&aes);
    memcpy(iv, k->key, 16);
    assert_int_equal(mbedtls_aes_setkey_enc(&aes, k->key, 256), 0);
    if (n > 0)
        assert_int_equal(mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, n, iv, plain, c), 0);
    mbedtls_aes_free(&aes);
    assert_int_equal(mbedtls_base64_encode((unsigned char *)out, cap, &olen, c, n), 0);
    out[olen] = '\0';
    free(c);
    return out;
}

/* random || be32(len) || msg || id, without padding; returns the length. */
static size_t frame(unsigned char *p, uint32_t len_field, const char *msg, size_t n, const char *id)
{
    size_t alen = strlen(id);
    memcpy(p, rnd, 16);
    p[16] = (unsigned char)(len_field >> 24);
    p[17] = (unsigned char)(len_field >> 16);
    p[18] = (unsigned char)(len_field >> 8);
    p[19] = (unsigned char)len_field;
    memcpy(p + 20, msg, n);
    memcpy(p + 20 + n, id, alen);
    return 20 + n + alen;
}

static int decrypt_text(const struct wx_key *k, const char *id, const char *b64)
{
    struct buf dec;
    buf_init(&dec, WX_MSG_MAX);
    int rc = wx_decrypt(k, id, b64, strlen(b64), &dec);
    if (rc != 0)
        assert_int_equal(dec.len, 0);
    buf_free(&dec);
    return rc;
}

static void test_padding(void **state)
{
    (void)state;
    struct wx_key k;
    unsigned char p[256];
    char msg[64];
    load_key(&k, key43);
    memset(msg, 'm', sizeof msg);

    /* every pad value 1..32, with a content length that makes it fit 16-byte
     * blocks: accepted as it is, refused with any one pad byte changed */
    for (unsigned v = 1; v <= 32; v++) {
        size_t n = 0;
        while ((20 + n + strlen(appid) + v) % 16 != 0)
            n++;
        size_t len = frame(p, (uint32_t)n, msg, n, appid);
        memset(p + len, (int)v, v);
        char *b64 = seal_raw(&k, p, len + v);
        assert_int_equal(decrypt_text(&k, appid, b64), 0);
        free(b64);
        for (unsigned i = 0; i < v; i++) {
            for (unsigned delta = 1; delta < 256; delta += 37) {
                unsigned char save = p[len + i];
                p[len + i] = (unsigned char)(save + delta);
                b64 = seal_raw(&k, p, len + v);
                assert_int_equal(decrypt_text(&k, appid, b64), KIOSKD_EMALFORMED);
                free(b64);
                p[len + i] = save;
            }
        }
    }
    /* every other value of the last byte: 0 and 33..255 */
    for (unsigned v = 0; v < 256; v++) {
        if (v >= 1 && v <= 32)
            continue;
        size_t len = frame(p, 4, "abcd", 4, appid);
        memset(p + len, (int)v, 96 - len);
        char *b64 = seal_raw(&k, p, 96);
        assert_int_equal(decrypt_text(&k, appid, b64), KIOSKD_EMALFORMED);
        free(b64);
    }
    /* padding that eats the header: 32 bytes of 32 */
    memset(p, 32, 32);
    char *b64 = seal_raw(&k, p, 32);
    assert_int_equal(decrypt_text(&k, appid, b64), KIOSKD_EMALFORMED);
    free(b64);
    wx_key_wipe(&k);
}

static void test_length_field(void **state)
{
    (void)state;
    struct wx_key k;
    unsigned char p[256];
    load_key(&k, key43);
    const uint32_t fields[] = {11, 12, 20, 29, 30, 31, 1000, 0x7fffffffu, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        /* a 10-byte message framed with another length */
        size_t len = frame(p, fields[i], "0123456789", 10, appid);
        size_t pad = 32 - len % 32;
        memset(p + len, (int)pad, pad);
        char *b64 = seal_raw(&k, p, len + pad);
        int rc = decrypt_text(&k, appid, b64);
        /* past the data: malformed; within it, the appid no longer matches */
        if (fields[i] > 10 + strlen(appid))
            assert_int_equal(rc, KIOSKD_EMALFORMED);
        else
            assert_int_equal(rc, KIOSKD_EAUTH);
        free(b64);
    }
    /* shorter than the message: the rest is not our appid */
    size_t len = frame(p, 3, "0123456789", 10, appid);
    size_t pad = 32 - len % 32;
    memset(p + len, (int)pad, pad);
    char *b64 = seal_raw(&k, p, len + pad);
    assert_int_equal(decrypt_text(&k, appid, b64), KIOSKD_EAUTH);
    free(b64);
    wx_key_wipe(&k);
}

static void test_decrypt_refusals(void **state)
{
    (void)state;
    struct wx_key k, other;
    struct buf enc;
    char *s;
    load_key(&k, key43);
    load_key(&other, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
    buf_init(&enc, WX_ENCRYPT_MAX);
    const char msg[] =
        "<xml><Content><![CDATA[hello]]></Content></xml> and some more text to reach 80 bytes";
    assert_int_equal(wx_encrypt(&k, appid, rnd, msg, strlen(msg), &enc), 0);
    assert_int_equal(decrypt_text(&k, appid, enc.data), 0);

    /* wrong appid: another, a prefix, a longer one */
    assert_int_equal(decrypt_text(&k, "wx0000000000000000", enc.data), KIOSKD_EAUTH);
    assert_int_equal(decrypt_text(&k, "wx49f0ab532d5d035", enc.data), KIOSKD_EAUTH);
    assert_int_equal(decrypt_text(&k, "wx49f0ab532d5d035aa", enc.data), KIOSKD_EAUTH);
    assert_int_equal(decrypt_text(&k, "", enc.data), KIOSKD_EINVAL);
    /* wrong key: garbage that fails one check or another */
    assert_int_not_equal(decrypt_text(&other, appid, enc.data), 0);

    /* truncated text: every shorter length */
    s = strdup(enc.data);
    assert_non_null(s);
    for (size_t n = 0; n < enc.len; n++) {
        struct buf dec;
        buf_init(&dec, WX_MSG_MAX);
        int rc = wx_decrypt(&k, appid, s, n, &dec);
        assert_true(rc == KIOSKD_EMALFORMED || rc == KIOSKD_EAUTH);
        buf_free(&dec);
    }
    free(s);

    /* ciphertext cut by whole blocks, and not a multiple of 16 */
    unsigned char raw[512];
    size_t rlen = 0, olen = 0;
    assert_int_equal(
        mbedtls_base64_decode(raw, sizeof raw, &rlen, (const unsigned char *)enc.data, enc.len), 0);
    for (size_t n = 0; n < rlen + 20; n++) {
        char text[800];
        if (n == rlen)
            continue;
        if (n > rlen)
            raw[n - 1] = (unsigned char)n; /* longer: extra bytes */
        assert_int_equal(mbedtls_base64_encode((unsigned char *)text, sizeof text, &olen, raw, n),
                         0);
        text[olen] = '\0';
        int rc = decrypt_text(&k, appid, text);
        if (n % 16 != 0 || n < 32)
            assert_int_equal(rc, KIOSKD_EMALFORMED);
        else
            assert_true(rc == KIOSKD_EMALFORMED || rc == KIOSKD_EAUTH);
    }

    /* bad base64 */
    const char *bad[] = {"",         "====", "A===",  "AAA",  "AAAAA",   "!AAA",     "AA=A",
                         "AAAA====", "AA-_", "AA\nA", " AAA", "AAA\x80", "QUJDRA=\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decrypt_text(&k, appid, bad[i]), KIOSKD_EMALFORMED);
    /* an embedded NUL, with the length given */
    s = strdup(enc.data);
    assert_non_null(s);
    s[4] = '\0';
    {
        struct buf dec;
        buf_init(&dec, WX_MSG_MAX);
        assert_int_equal(wx_decrypt(&k, appid, s, enc.len, &dec), KIOSKD_EMALFORMED);
        buf_free(&dec);
    }
    free(s);
    /* every character replaced by one outside the alphabet */
    s = strdup(enc.data);
    assert_non_null(s);
    for (size_t i = 0; i < enc.len; i++) {
        char save = s[i];
        s[i] = '*';
        assert_int_equal(decrypt_text(&k, appid, s), KIOSKD_EMALFORMED);
        s[i] = save;
    }
    free(s);
    /* unused bits before the padding must be zero (one spelling per ciphertext):
     * 64 bytes encode with "==", 128 with "=" */
    for (size_t n = 0; n <= 80; n += 80) {
        struct buf e2;
        buf_init(&e2, WX_ENCRYPT_MAX);
        assert_int_equal(wx_encrypt(&k, appid, rnd, msg, n, &e2), 0);
        assert_int_equal(e2.data[e2.len - 1], '=');
        size_t last = e2.len - (e2.data[e2.len - 2] == '=' ? 3 : 2);
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(alpha, e2.data[last]);
        assert_non_null(p);
        e2.data[last] = alpha[(p - alpha) | 1];
        assert_int_equal(decrypt_text(&k, appid, e2.data), KIOSKD_EMALFORMED);
        buf_free(&e2);
    }
    /* too long */
    s = malloc(WX_ENCRYPT_MAX + 5);
    assert_non_null(s);
    memset(s, 'A', WX_ENCRYPT_MAX + 4);
    s[WX_ENCRYPT_MAX + 4] = '\0';
    assert_int_equal(decrypt_text(&k, appid, s), KIOSKD_ETOOBIG);
    free(s);
    /* the output's ceiling: refused, what was there stays */
    struct buf small;
    buf_init(&small, 8);
    assert_int_equal(buf_puts(&small, "keep"), 0);
    assert_int_equal(wx_decrypt(&k, appid, enc.data, enc.len, &small), KIOSKD_ETOOBIG);
    assert_string_equal(small.data, "keep");
    buf_free(&small);

    buf_free(&enc);
    wx_key_wipe(&k);
    wx_key_wipe(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),         cmocka_unit_test(test_url_verification),
        cmocka_unit_test(test_signature_order), cmocka_unit_test(test_sig_equal_refusals),
        cmocka_unit_test(test_round_trips),     cmocka_unit_test(test_encrypt_limits),
        cmocka_unit_test(test_key_refusals),    cmocka_unit_test(test_padding),
        cmocka_unit_test(test_length_field),    cmocka_unit_test(test_decrypt_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
