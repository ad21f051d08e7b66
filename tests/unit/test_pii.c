/*
 * Personal data sealing and lookup hashes: round trips (Chinese names, empty
 * values), tampering with any byte, wrong aad, wrong key, buffer sizes, and
 * the hash against an HMAC computed by mbedTLS from the documented labels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/md.h>

#include "core/pii.h"
#include "core/status.h"

struct fx {
    struct rng rng;
    struct pii p, q; /* q has another master key */
    unsigned char master[32];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    unsigned char other[32];
    if (f == NULL || rng_init(&f->rng) != 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        f->master[i] = (unsigned char)(i * 7 + 1);
        other[i] = (unsigned char)(i * 7 + 2);
    }
    if (pii_init(&f->p, f->master) != 0 || pii_init(&f->q, other) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    pii_free(&f->p);
    pii_free(&f->q);
    rng_free(&f->rng);
    free(f);
    return 0;
}

/* Whether needle[0..n) occurs in hay[0..len); n > 0. */
static int contains(const void *hay, size_t len, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp((const char *)hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static void round_trip(struct fx *f, const char *aad, const char *s, size_t n)
{
    unsigned char sealed[512];
    char opened[512];
    size_t slen = 0, olen = 0;
    assert_int_equal(pii_seal(&f->p, &f->rng, aad, s, n, sealed, sizeof sealed, &slen), 0);
    assert_int_equal(slen, n + PII_OVERHEAD);
    if (n >= 8)
        assert_false(contains(sealed, slen, s, n)); /* not in clear */
    assert_int_equal(pii_open(&f->p, aad, sealed, slen, opened, sizeof opened, &olen), 0);
    assert_int_equal(olen, n);
    assert_memory_equal(opened, s, n);
    assert_int_equal(opened[n], '\0');
}

static void test_round_trips(void **state)
{
    struct fx *f = *state;
    const char *values[] = {
        "",         "13800138000",          "+8613912345678", "张伟",
        "欧阳娜娜", "Zhang Wei 张伟 (VIP)", "𠀀𪚥 rare CJK",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        round_trip(f, "signup.name", values[i], strlen(values[i]));
    round_trip(f, "", "empty aad", 9);
    round_trip(f, "bytes", "a\0b", 3); /* embedded NUL: *outlen tells */

    /* the same value sealed twice differs (random nonce) */
    unsigned char s1[64], s2[64];
    size_t l1, l2;
    assert_int_equal(pii_seal(&f->p, &f->rng, "a", "same", 4, s1, sizeof s1, &l1), 0);
    assert_int_equal(pii_seal(&f->p, &f->rng, "a", "same", 4, s2, sizeof s2, &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(s1, s2, l1);
}

static void test_tamper_any_byte(void **state)
{
    struct fx *f = *state;
    const char *name = "李小龙";
    unsigned char sealed[128];
    char out[128];
    size_t slen = 0, olen = 99;
    assert_int_equal(
        pii_seal(&f->p, &f->rng, "member.name", name, strlen(name), sealed, sizeof sealed, &slen),
        0);
    for (size_t i = 0; i < slen; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            sealed[i] ^= (unsigned char)(1u << bit);
            memset(out, 'x', sizeof out);
            assert_int_equal(pii_open(&f->p, "member.name", sealed, slen, out, sizeof out, &olen),
                             KIOSKD_ECRYPTO);
            assert_int_equal(olen, 0);
            assert_int_equal(out[0], '\0');
            assert_false(contains(out, sizeof out, name, strlen(name)));
            sealed[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* every truncation, including shorter than the overhead */
    for (size_t n = 0; n < slen; n++)
        assert_int_equal(pii_open(&f->p, "member.name", sealed, n, out, sizeof out, &olen),
                         KIOSKD_ECRYPTO);
    assert_int_equal(pii_open(&f->p, "member.name", sealed, slen, out, sizeof out, &olen), 0);
    assert_string_equal(out, name);
}

static void test_wrong_aad_and_key(void **state)
{
    struct fx *f = *state;
    unsigned char sealed[128];
    char out[128];
    size_t slen = 0, olen = 0;
    assert_int_equal(
        pii_seal(&f->p, &f->rng, "signup.phone", "13800138000", 11, sealed, sizeof sealed, &slen),
        0);
    assert_int_equal(pii_open(&f->p, "signup.name", sealed, slen, out, sizeof out, &olen),
                     KIOSKD_ECRYPTO);
    assert_int_equal(pii_open(&f->p, "signup.phon", sealed, slen, out, sizeof out, &olen),
                     KIOSKD_ECRYPTO);
    assert_int_equal(pii_open(&f->p, "", sealed, slen, out, sizeof out, &olen), KIOSKD_ECRYPTO);
    assert_int_equal(pii_open(&f->q, "signup.phone", sealed, slen, out, sizeof out, &olen),
                     KIOSKD_ECRYPTO);
    assert_int_equal(pii_open(&f->p, "signup.phone", sealed, slen, out, sizeof out, &olen), 0);
    assert_string_equal(out, "13800138000");
}

static void test_sizes(void **state)
{
    struct fx *f = *state;
    unsigned char sealed[64];
    char out[64];
    size_t slen = 0, olen = 0;

    /* seal: exactly len + PII_OVERHEAD fits, one less does not */
    assert_int_equal(pii_seal(&f->p, &f->rng, "x", "12345", 5, sealed, 5 + PII_OVERHEAD - 1, &slen),
                     KIOSKD_ETOOBIG);
    assert_int_equal(pii_seal(&f->p, &f->rng, "x", "12345", 5, sealed, 10, &slen), KIOSKD_ETOOBIG);
    assert_int_equal(pii_seal(&f->p, &f->rng, "x", "12345", 5, sealed, 5 + PII_OVERHEAD, &slen), 0);
    /* open: needs room for the NUL */
    assert_int_equal(pii_open(&f->p, "x", sealed, slen, out, 5, &olen), KIOSKD_ETOOBIG);
    assert_int_equal(pii_open(&f->p, "x", sealed, slen, out, 0, &olen), KIOSKD_ETOOBIG);
    assert_int_equal(pii_open(&f->p, "x", sealed, slen, out, 6, &olen), 0);
    assert_string_equal(out, "12345");
    assert_int_equal(pii_seal(&f->p, &f->rng, NULL, "1", 1, sealed, sizeof sealed, &slen),
                     KIOSKD_EINVAL);
    assert_int_equal(pii_open(&f->p, NULL, sealed, slen, out, sizeof out, &olen), KIOSKD_EINVAL);
    /* empty value with no buffer at all */
    assert_int_equal(pii_seal(&f->p, &f->rng, "x", NULL, 0, sealed, sizeof sealed, &slen), 0);
    assert_int_equal(slen, PII_OVERHEAD);
    assert_int_equal(pii_open(&f->p, "x", sealed, slen, out, 1, &olen), 0);
    assert_int_equal(olen, 0);
    pii_free(NULL);
}

static void test_hash(void **state)
{
    struct fx *f = *state;
    unsigned char h1[32], h2[32], h3[32], want[32], mac_key[32];
    const char *phone = "+8613800138000";

    assert_int_equal(pii_hash(&f->p, phone, strlen(phone), h1), 0);
    assert_int_equal(pii_hash(&f->p, phone, strlen(phone), h2), 0);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(pii_hash(&f->q, phone, strlen(phone), h3), 0);
    assert_memory_not_equal(h1, h3, 32);
    assert_int_equal(pii_hash(&f->p, "+8613800138001", 14, h3), 0);
    assert_memory_not_equal(h1, h3, 32);

    /* a fresh struct from the same master key hashes the same */
    struct pii again;
    assert_int_equal(pii_init(&again, f->master), 0);
    assert_int_equal(pii_hash(&again, phone, strlen(phone), h3), 0);
    assert_memory_equal(h1, h3, 32);
    pii_free(&again);

    /* HMAC-SHA256(HMAC-SHA256(master, "kioskd pii mac v1"), text), by mbedTLS */
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    assert_int_equal(
        mbedtls_md_hmac(md, f->master, 32, (const unsigned char *)"kioskd pii mac v1", 17, mac_key),
        0);
    assert_int_equal(
        mbedtls_md_hmac(md, mac_key, 32, (const unsigned char *)phone, strlen(phone), want), 0);
    assert_memory_equal(h1, want, 32);
    assert_int_equal(pii_hash(&f->p, "", 0, h2), 0);
    assert_int_equal(mbedtls_md_hmac(md, mac_key, 32, (const unsigned char *)"", 0, want), 0);
    assert_memory_equal(h2, want, 32);
    /* the lookup key is not the encryption key */
    assert_int_equal(
        mbedtls_md_hmac(md, f->master, 32, (const unsigned char *)"kioskd pii enc v1", 17, want),
        0);
    assert_memory_not_equal(mac_key, want, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_tamper_any_byte),
        cmocka_unit_test(test_wrong_aad_and_key),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
