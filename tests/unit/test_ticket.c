/*
 * Signed QR tickets: a known-answer vector, round trips, determinism, every
 * one-character change, every prefix, odd inputs, unknown and forged keys,
 * the high-s twin, key rings, public-only keys and PEM round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/base64.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>

#include "core/status.h"
#include "core/ticket.h"

/* A synthetic key made for this test only, and a code it signed. The Python
 * `cryptography` package agrees on the kid, the signature and RFC 6979. */
static const char fixed_priv[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIJVE5IusF5rCoPY0RoL/pNQk4jFRWydSuPcpRCCNBcK5oAoGCCqGSM49\n"
    "AwEHoUQDQgAE3gksc5ydlyrIu/EQSvBhtswEBpGWTBBKvpshxKKhoOljeC4TeVCU\n"
    "m0hpTDq2ven52njSUJqm4yWibiMW6VQZeA==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char fixed_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                                "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3gksc5ydlyrIu/EQSvBhtswEBpGW\n"
                                "TBBKvpshxKKhoOljeC4TeVCUm0hpTDq2ven52njSUJqm4yWibiMW6VQZeA==\n"
                                "-----END PUBLIC KEY-----\n";
static const char fixed_kid[] = "s0eL66di";
static const char fixed_code[] =
    "K1.s0eL66di.AQAAAAAAAAAqAAAAAAAAAAcAAAAAaVW5AA."
    "iFpaDmSrAWjLRfawSUNhlx9N2TtJbHSM4QPZaRJYFiR7x9jWqdmYw0K7oob7VljrOzh5xqGJUx8FZwLx5qpRtg";
static const struct ticket_payload fixed_payload = {42, 7, 1767225600};

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct fx {
    struct rng rng;
    struct ticket_key a, b;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL || rng_init(&f->rng) != 0 || ticket_key_generate(&f->a, &f->rng) != 0 ||
        ticket_key_generate(&f->b, &f->rng) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ticket_key_free(&f->a);
    ticket_key_free(&f->b);
    rng_free(&f->rng);
    free(f);
    return 0;
}

/* Verifies a copy of s[0..n) in a heap block of exactly n bytes, so that ASan
 * catches any read past the end. */
static int verify_exact(const struct ticket_keyring *ring, const char *s, size_t n,
                        struct ticket_payload *out)
{
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    if (n > 0)
        memcpy(copy, s, n);
    int rc = ticket_verify(ring, copy, n, out);
    free(copy);
    return rc;
}

static int is_refusal(int rc)
{
    return rc == KIOSKD_EMALFORMED || rc == KIOSKD_ENOTFOUND || rc == KIOSKD_EBADSIG;
}

static void assert_payload_equal(const struct ticket_payload *x, const struct ticket_payload *y)
{
    assert_true(x->event_id == y->event_id);
    assert_true(x->signup_id == y->signup_id);
    assert_true(x->issued_at == y->issued_at);
}

static size_t b64url(const unsigned char *src, size_t n, char *dst, size_t cap)
{
    unsigned char tmp[128];
    size_t olen = 0, j = 0;
    assert_int_equal(mbedtls_base64_encode(tmp, sizeof tmp, &olen, src, n), 0);
    for (size_t i = 0; i < olen && tmp[i] != '='; i++) {
        assert_true(j < cap);
        dst[j++] = (char)(tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i]);
    }
    return j;
}

static void test_known_answer(void **state)
{
    struct fx *f = *state;
    struct ticket_key k, pub;
    struct ticket_keyring ring = {{&pub}, 1};
    struct ticket_payload got;
    char code[TICKET_CODE_MAX + 1];

    assert_int_equal(ticket_key_load_pem(&k, fixed_priv, strlen(fixed_priv)), 0);
    assert_string_equal(k.kid, fixed_kid);
    assert_int_equal(ticket_sign(&k, &f->rng, &fixed_payload, code, sizeof code), 0);
    assert_string_equal(code, fixed_code);
    assert_int_equal(ticket_key_load_pem(&pub, fixed_pub, strlen(fixed_pub)), 0);
    assert_string_equal(pub.kid, fixed_kid);
    assert_false(pub.has_private);
    assert_int_equal(verify_exact(&ring, fixed_code, strlen(fixed_code), &got), 0);
    assert_payload_equal(&got, &fixed_payload);
    ticket_key_free(&k);
    ticket_key_free(&pub);
}

static void test_round_trip_and_determinism(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->a}, 1};
    const struct ticket_payload cases[] = {
        {1, 1, 1700000000},          {0, 0, 0},
        {INT64_MAX, INT64_MIN, -1},  {-5, 123456789012345, 4102444800},
        {987654321, 42, 1767225600},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char c1[TICKET_CODE_MAX + 1], c2[TICKET_CODE_MAX + 1];
        struct ticket_payload got = {0, 0, 0};
        assert_int_equal(ticket_sign(&f->a, &f->rng, &cases[i], c1, sizeof c1), 0);
        assert_int_equal(strlen(c1), TICKET_CODE_LEN);
        assert_true(strlen(c1) < 140);
        assert_memory_equal(c1, "K1.", 3);
        assert_memory_equal(c1 + 3, f->a.kid, TICKET_KID_LEN);
        assert_int_equal(verify_exact(&ring, c1, strlen(c1), &got), 0);
        assert_payload_equal(&got, &cases[i]);
        /* same key and payload: the identical code, whatever the blinding */
        assert_int_equal(ticket_sign(&f->a, &f->rng, &cases[i], c2, sizeof c2), 0);
        assert_string_equal(c1, c2);
    }
}

static void check_substitution(const struct ticket_keyring *ring, const char *code, size_t i,
                               char c)
{
    char copy[TICKET_CODE_LEN];
    struct ticket_payload got = {-1, -1, -1};
    if (code[i] == c)
        return;
    memcpy(copy, code, TICKET_CODE_LEN);
    copy[i] = c;
    int rc = verify_exact(ring, copy, TICKET_CODE_LEN, &got);
    if (!is_refusal(rc))
        fail_msg("position %zu changed to 0x%02x: rc %d", i, (unsigned char)c, rc);
    assert_true(got.event_id == -1); /* out untouched on failure */
}

static void test_every_single_change_refused(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->a, &f->b}, 2};
    const struct ticket_payload p = {77, 1234, 1760000000};
    char code[TICKET_CODE_MAX + 1];
    static const char odd[] = {'.', '=', '+', '/', ' ', '\n', '\0', '\x80', '\xe7', 'K'};

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    for (size_t i = 0; i < TICKET_CODE_LEN; i++) {
        const char *at = strchr(alphabet, code[i]);
        if (at != NULL && code[i] != '\0') {
            size_t v = (size_t)(at - alphabet);
            check_substitution(&ring, code, i, alphabet[(v + 1) % 64]);
            check_substitution(&ring, code, i, alphabet[v ^ 1]); /* lowest bit */
            check_substitution(&ring, code, i, alphabet[v ^ 32]);
        } else {
            check_substitution(&ring, code, i, 'A');
        }
        for (size_t j = 0; j < sizeof odd; j++)
            check_substitution(&ring, code, i, odd[j]);
    }
    /* The last character of a part carries unused bits: every value but the
     * original must be refused (non-canonical or a different value). */
    const size_t last[] = {3 + 8 - 1, 3 + 8 + 1 + 34 - 1, TICKET_CODE_LEN - 1};
    for (size_t k = 0; k < 3; k++)
        for (size_t j = 0; j < 64; j++)
            check_substitution(&ring, code, last[k], alphabet[j]);
}

static void test_prefixes_and_extensions(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->a}, 1};
    const struct ticket_payload p = {5, 6, 7};
    char code[TICKET_CODE_MAX + 1], longer[TICKET_CODE_MAX + 8];
    struct ticket_payload got;

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    for (size_t n = 0; n < TICKET_CODE_LEN; n++) {
        assert_true(is_refusal(verify_exact(&ring, code, n, &got)));
        /* the tail too: the code without its first characters */
        assert_true(is_refusal(verify_exact(&ring, code + TICKET_CODE_LEN - n, n, &got)));
    }
    assert_int_equal(verify_exact(&ring, code, TICKET_CODE_LEN, &got), 0);

    const char *tails[] = {"\n", "\r\n", " ", "=", "==", "A", ".", "\0"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t tl = tails[i][0] == '\0' ? 1 : strlen(tails[i]);
        memcpy(longer, code, TICKET_CODE_LEN);
        memcpy(longer + TICKET_CODE_LEN, tails[i], tl);
        assert_int_equal(verify_exact(&ring, longer, TICKET_CODE_LEN + tl, &got),
                         KIOSKD_EMALFORMED);
        /* and in front */
        memcpy(longer, tails[i], tl);
        memcpy(longer + tl, code, TICKET_CODE_LEN);
        assert_int_equal(verify_exact(&ring, longer, TICKET_CODE_LEN + tl, &got),
                         KIOSKD_EMALFORMED);
    }
}

static void test_odd_inputs(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->a}, 1};
    struct ticket_payload got;
    char code[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {1, 2, 3};

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    assert_int_equal(verify_exact(&ring, "", 0, &got), KIOSKD_EMALFORMED);
    assert_int_equal(ticket_verify(&ring, code, 0, &got), KIOSKD_EMALFORMED);

    size_t huge = 1u << 20;
    char *big = malloc(huge);
    assert_non_null(big);
    memset(big, 'A', huge);
    memcpy(big, code, TICKET_CODE_LEN); /* a valid code followed by a megabyte */
    assert_int_equal(ticket_verify(&ring, big, huge, &got), KIOSKD_EMALFORMED);
    assert_int_equal(ticket_verify(&ring, big, TICKET_CODE_MAX + 1, &got), KIOSKD_EMALFORMED);
    free(big);

    const char *bad[] = {
        "K1",
        "K1.",
        "K1...",
        "K1.a.b.c",
        "k1.s0eL66di.AQAAAAAAAAAqAAAAAAAAAAcAAAAAaVW5AA.x",
        "K2.s0eL66di.AQAAAAAAAAAqAAAAAAAAAAcAAAAAaVW5AA.x",
        "K1.\xe7\xa5\xa8\xe7\xa5\xa8.\xe7\xa5\xa8.\xe7\xa5\xa8",
        "\xef\xbb\xbfK1.s0eL66di.AQAAAAAAAAAqAAAAAAAAAAcAAAAAaVW5AA.x",
        "\xff\xfe\xfd\xfc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify_exact(&ring, bad[i], strlen(bad[i]), &got), KIOSKD_EMALFORMED);

    /* Each part padded, or in the standard alphabet: refused although the
     * bytes are the same. */
    char buf[TICKET_CODE_MAX + 8];
    const char *p2 = strchr(code + 3, '.'), *p3 = strchr(p2 + 1, '.');
    size_t cut[] = {(size_t)(p2 - code), (size_t)(p3 - code), TICKET_CODE_LEN};
    for (size_t i = 0; i < 3; i++) {
        memcpy(buf, code, cut[i]);
        memcpy(buf + cut[i], "==", 2);
        memcpy(buf + cut[i] + 2, code + cut[i], TICKET_CODE_LEN - cut[i]);
        assert_int_equal(verify_exact(&ring, buf, TICKET_CODE_LEN + 2, &got), KIOSKD_EMALFORMED);
    }
    memcpy(buf, code, TICKET_CODE_LEN);
    int swapped = 0;
    for (size_t i = 3; i < TICKET_CODE_LEN; i++) {
        if (buf[i] == '-' || buf[i] == '_') {
            buf[i] = buf[i] == '-' ? '+' : '/';
            swapped = 1;
        }
    }
    if (swapped)
        assert_int_equal(verify_exact(&ring, buf, TICKET_CODE_LEN, &got), KIOSKD_EMALFORMED);
    /* an extra fifth part */
    memcpy(buf, code, TICKET_CODE_LEN);
    memcpy(buf + TICKET_CODE_LEN, ".AA", 3);
    assert_int_equal(verify_exact(&ring, buf, TICKET_CODE_LEN + 3, &got), KIOSKD_EMALFORMED);
}

static void test_unknown_version(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->a}, 1};
    struct ticket_payload got;
    char code[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {10, 20, 30};
    unsigned char raw[25] = {2}; /* version 2 */
    char enc[40];

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    assert_int_equal(b64url(raw, sizeof raw, enc, sizeof enc), 34);
    memcpy(code + 12, enc, 34);
    assert_int_equal(verify_exact(&ring, code, TICKET_CODE_LEN, &got), KIOSKD_EMALFORMED);
    /* a payload one byte short or long has the wrong length */
    assert_int_equal(b64url(raw, 24, enc, sizeof enc), 32);
    char shortc[TICKET_CODE_MAX + 1];
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    memcpy(shortc, code, 12);
    memcpy(shortc + 12, enc, 32);
    memcpy(shortc + 44, code + 46, TICKET_CODE_LEN - 46);
    assert_int_equal(verify_exact(&ring, shortc, TICKET_CODE_LEN - 2, &got), KIOSKD_EMALFORMED);
}

static void test_unknown_kid(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring only_b = {{&f->b}, 1}, empty = {{NULL}, 0}, holes = {{NULL, &f->b}, 2};
    struct ticket_payload got;
    char code[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {3, 4, 5};

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    assert_int_equal(verify_exact(&only_b, code, TICKET_CODE_LEN, &got), KIOSKD_ENOTFOUND);
    assert_int_equal(verify_exact(&empty, code, TICKET_CODE_LEN, &got), KIOSKD_ENOTFOUND);
    assert_int_equal(verify_exact(&holes, code, TICKET_CODE_LEN, &got), KIOSKD_ENOTFOUND);
}

static void test_forged_with_known_kid(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring_a = {{&f->a}, 1}, ring_ab = {{&f->a, &f->b}, 2};
    struct ticket_payload got;
    char real[TICKET_CODE_MAX + 1], forged[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {9, 99, 999};

    /* Key b signing under a's kid: a valid signature by the wrong key. The
     * copy shares b's memory, so it is not freed. */
    struct ticket_key forger = f->b;
    memcpy(forger.kid, f->a.kid, sizeof forger.kid);
    assert_int_equal(ticket_sign(&forger, &f->rng, &p, forged, sizeof forged), 0);
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, real, sizeof real), 0);
    assert_memory_equal(forged, real, 46); /* same text signed, different signature */
    assert_memory_not_equal(forged, real, TICKET_CODE_LEN);
    assert_int_equal(verify_exact(&ring_a, forged, TICKET_CODE_LEN, &got), KIOSKD_EBADSIG);
    assert_int_equal(verify_exact(&ring_ab, forged, TICKET_CODE_LEN, &got), KIOSKD_EBADSIG);

    /* A signature by b pasted onto a's text, unchanged otherwise. */
    char bcode[TICKET_CODE_MAX + 1];
    assert_int_equal(ticket_sign(&f->b, &f->rng, &p, bcode, sizeof bcode), 0);
    memcpy(forged, real, TICKET_CODE_LEN);
    memcpy(forged + 47, bcode + 47, TICKET_CODE_LEN - 47);
    assert_int_equal(verify_exact(&ring_ab, forged, TICKET_CODE_LEN, &got), KIOSKD_EBADSIG);

    /* Two ring keys sharing a kid (48 bits can collide): each is tried. */
    struct ticket_keyring clash = {{&forger, &f->a}, 2};
    assert_int_equal(verify_exact(&clash, real, TICKET_CODE_LEN, &got), 0);
    assert_payload_equal(&got, &p);
}

static void test_high_s_twin_refused(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->a}, 1};
    struct ticket_payload got;
    char code[TICKET_CODE_MAX + 1], twin[TICKET_CODE_MAX + 1];
    unsigned char sig[66], hash[32];
    size_t olen = 0;
    const struct ticket_payload p = {11, 12, 13};
    mbedtls_mpi r, s;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(f->a.pk);

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    /* decode the signature part (86 characters, 64 bytes) */
    unsigned char tmp[90];
    for (size_t i = 0; i < 86; i++) {
        char c = code[47 + i];
        tmp[i] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
    }
    tmp[86] = tmp[87] = '=';
    assert_int_equal(mbedtls_base64_decode(sig, sizeof sig, &olen, tmp, 88), 0);
    assert_int_equal(olen, 64);

    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    assert_int_equal(mbedtls_mpi_read_binary(&r, sig, 32), 0);
    assert_int_equal(mbedtls_mpi_read_binary(&s, sig + 32, 32), 0);
    assert_int_equal(mbedtls_mpi_sub_mpi(&s, &ec->grp.N, &s), 0); /* s' = n - s */
    assert_int_equal(mbedtls_mpi_write_binary(&s, sig + 32, 32), 0);
    /* plain ECDSA accepts the twin ... */
    assert_int_equal(mbedtls_sha256_ret((const unsigned char *)code, 46, hash, 0), 0);
    assert_int_equal(mbedtls_ecdsa_verify(&ec->grp, hash, 32, &ec->Q, &r, &s), 0);
    /* ... tickets do not, so each ticket has one code */
    memcpy(twin, code, 47);
    assert_int_equal(b64url(sig, 64, twin + 47, 86), 86);
    assert_int_equal(verify_exact(&ring, twin, TICKET_CODE_LEN, &got), KIOSKD_EBADSIG);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
}

static void test_ring_of_two_and_bad_rings(void **state)
{
    struct fx *f = *state;
    struct ticket_keyring ring = {{&f->b, &f->a}, 2};
    struct ticket_payload got;
    char ca[TICKET_CODE_MAX + 1], cb[TICKET_CODE_MAX + 1];
    const struct ticket_payload pa = {100, 1, 1}, pb = {200, 2, 2};

    assert_string_not_equal(f->a.kid, f->b.kid);
    assert_int_equal(ticket_sign(&f->a, &f->rng, &pa, ca, sizeof ca), 0);
    assert_int_equal(ticket_sign(&f->b, &f->rng, &pb, cb, sizeof cb), 0);
    assert_int_equal(verify_exact(&ring, ca, TICKET_CODE_LEN, &got), 0);
    assert_payload_equal(&got, &pa);
    assert_int_equal(verify_exact(&ring, cb, TICKET_CODE_LEN, &got), 0);
    assert_payload_equal(&got, &pb);

    ring.n = TICKET_KEYRING_MAX + 1;
    assert_int_equal(ticket_verify(&ring, ca, TICKET_CODE_LEN, &got), KIOSKD_EINVAL);
    ring.n = -1;
    assert_int_equal(ticket_verify(&ring, ca, TICKET_CODE_LEN, &got), KIOSKD_EINVAL);
    assert_int_equal(ticket_verify(NULL, ca, TICKET_CODE_LEN, &got), KIOSKD_EINVAL);
}

static void test_public_only_key(void **state)
{
    struct fx *f = *state;
    struct ticket_key pub;
    struct ticket_keyring ring = {{&pub}, 1};
    struct ticket_payload got;
    char pem[1024], code[TICKET_CODE_MAX + 1], none[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {31, 32, 33};

    assert_int_equal(ticket_key_write_pem(&f->a, 0, pem, sizeof pem), 0);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----\n"));
    assert_null(strstr(pem, "PRIVATE"));
    assert_int_equal(ticket_key_load_pem(&pub, pem, strlen(pem)), 0);
    assert_string_equal(pub.kid, f->a.kid);
    assert_false(pub.has_private);

    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    assert_int_equal(verify_exact(&ring, code, TICKET_CODE_LEN, &got), 0);
    assert_payload_equal(&got, &p);
    assert_int_equal(ticket_sign(&pub, &f->rng, &p, none, sizeof none), KIOSKD_EINVAL);
    assert_string_equal(none, "");
    assert_int_equal(ticket_key_write_pem(&pub, 1, pem, sizeof pem), KIOSKD_EINVAL);
    assert_int_equal(ticket_key_write_pem(&pub, 0, pem, sizeof pem), 0);
    ticket_key_free(&pub);
}

static void test_pem_round_trip(void **state)
{
    struct fx *f = *state;
    struct ticket_key k;
    char pem[1024], c1[TICKET_CODE_MAX + 1], c2[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {41, 42, 43};

    assert_int_equal(ticket_key_write_pem(&f->a, 1, pem, sizeof pem), 0);
    assert_non_null(strstr(pem, "-----BEGIN EC PRIVATE KEY-----\n"));
    size_t n = strlen(pem);
    /* exactly n bytes, no NUL after them */
    char *exact = malloc(n);
    assert_non_null(exact);
    memcpy(exact, pem, n);
    assert_int_equal(ticket_key_load_pem(&k, exact, n), 0);
    free(exact);
    assert_string_equal(k.kid, f->a.kid);
    assert_true(k.has_private);
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, c1, sizeof c1), 0);
    assert_int_equal(ticket_sign(&k, &f->rng, &p, c2, sizeof c2), 0);
    assert_string_equal(c1, c2); /* a reloaded key re-derives the same tickets */
    ticket_key_free(&k);

    /* a trailing NUL counted in len is fine */
    assert_int_equal(ticket_key_load_pem(&k, pem, n + 1), 0);
    assert_string_equal(k.kid, f->a.kid);
    ticket_key_free(&k);

    /* too small a buffer */
    assert_int_equal(ticket_key_write_pem(&f->a, 1, pem, 100), KIOSKD_ETOOBIG);
    assert_int_equal(ticket_key_write_pem(&f->a, 0, pem, 0), KIOSKD_ETOOBIG);
}

static void test_bad_pems(void **state)
{
    struct fx *f = *state;
    struct ticket_key k;
    char pem[1024];

    assert_int_equal(ticket_key_load_pem(&k, "", 0), KIOSKD_EMALFORMED);
    ticket_key_free(&k); /* zeroed on failure: free is harmless */
    assert_int_equal(ticket_key_load_pem(&k, "hello", 5), KIOSKD_EMALFORMED);
    assert_int_equal(ticket_key_load_pem(&k, fixed_priv, 60), KIOSKD_EMALFORMED);
    assert_int_equal(ticket_key_load_pem(&k, fixed_pub, strlen(fixed_pub) - 30), KIOSKD_EMALFORMED);
    memcpy(pem, fixed_priv, sizeof fixed_priv);
    pem[40] = '\0'; /* an embedded NUL */
    assert_int_equal(ticket_key_load_pem(&k, pem, strlen(fixed_priv)), KIOSKD_EMALFORMED);
    memcpy(pem, fixed_priv, sizeof fixed_priv);
    pem[70] = pem[70] == 'A' ? 'B' : 'A'; /* a changed private scalar: Q no longer d*G */
    assert_int_equal(ticket_key_load_pem(&k, pem, strlen(pem)), KIOSKD_EMALFORMED);

    /* A private key whose embedded public point is another key's. */
    unsigned char da[256], db[256];
    mbedtls_pk_context pa = f->a.pk, pb = f->b.pk;
    int la = mbedtls_pk_write_key_der(&pa, da, sizeof da);
    int lb = mbedtls_pk_write_key_der(&pb, db, sizeof db);
    assert_true(la == 121 && lb == 121);
    memcpy(da + sizeof da - 65, db + sizeof db - 65, 65);
    size_t olen = 0;
    assert_int_equal(mbedtls_pem_write_buffer(
                         "-----BEGIN EC PRIVATE KEY-----\n", "-----END EC PRIVATE KEY-----\n",
                         da + sizeof da - 121, 121, (unsigned char *)pem, sizeof pem, &olen),
                     0);
    assert_int_equal(ticket_key_load_pem(&k, pem, strlen(pem)), KIOSKD_EMALFORMED);

    /* A key on another curve. */
    mbedtls_pk_context other;
    mbedtls_pk_init(&other);
    assert_int_equal(mbedtls_pk_setup(&other, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(other), rng_mbedtls, &f->rng),
        0);
    assert_int_equal(mbedtls_pk_write_key_pem(&other, (unsigned char *)pem, sizeof pem), 0);
    assert_int_equal(ticket_key_load_pem(&k, pem, strlen(pem)), KIOSKD_EINVAL);
    assert_int_equal(mbedtls_pk_write_pubkey_pem(&other, (unsigned char *)pem, sizeof pem), 0);
    assert_int_equal(ticket_key_load_pem(&k, pem, strlen(pem)), KIOSKD_EINVAL);
    mbedtls_pk_free(&other);
    ticket_key_free(&k);
    ticket_key_free(NULL);
}

/* The digest key of fixed_priv and the digest of fixed_code under it, as
 * Python's hmac and `cryptography` compute them (HMAC-SHA256 of the private
 * scalar and "kioskd ticket digest v1", then HMAC-SHA256 of the code). */
static const unsigned char fixed_digest_key[TICKET_DIGEST_LEN] = {
    0xc3, 0xc6, 0x3f, 0xaf, 0x1d, 0xb5, 0xfa, 0x06, 0xc0, 0xb5, 0x54, 0xbf, 0xeb, 0xa8, 0xcd, 0x4e,
    0x4c, 0x50, 0xb3, 0x4f, 0x5b, 0x2b, 0x15, 0x70, 0x5b, 0xf8, 0xf8, 0x03, 0x7a, 0xfd, 0x57, 0x52};
static const unsigned char fixed_digest[TICKET_DIGEST_LEN] = {
    0x37, 0x76, 0x4b, 0x74, 0xec, 0x23, 0xc1, 0xb9, 0xc7, 0x4d, 0x96, 0xed, 0x7d, 0x34, 0x44, 0x55,
    0x3e, 0xc9, 0x95, 0x4d, 0xd4, 0xe2, 0x9d, 0xec, 0x24, 0x31, 0x85, 0x7e, 0xec, 0x19, 0xb2, 0x68};

static void test_digest_known_answer(void **state)
{
    (void)state;
    struct ticket_key k, pub;
    unsigned char key[TICKET_DIGEST_LEN], d[TICKET_DIGEST_LEN];
    assert_int_equal(ticket_key_load_pem(&k, fixed_priv, strlen(fixed_priv)), 0);
    assert_int_equal(ticket_digest_key(&k, key), 0);
    assert_memory_equal(key, fixed_digest_key, sizeof key);
    assert_int_equal(ticket_digest(key, fixed_code, strlen(fixed_code), d), 0);
    assert_memory_equal(d, fixed_digest, sizeof d);
    assert_true(ticket_digest_equal(d, fixed_digest));
    /* a public key cannot give the digest key: whoever verifies cannot forge digests */
    assert_int_equal(ticket_key_load_pem(&pub, fixed_pub, strlen(fixed_pub)), 0);
    assert_int_equal(ticket_digest_key(&pub, key), KIOSKD_EINVAL);
    assert_int_equal(ticket_digest_key(NULL, key), KIOSKD_EINVAL);
    ticket_key_free(&k);
    ticket_key_free(&pub);
}

/* Any other code, a code under another key, or the same code under another
 * key's digest key: a different digest. Comparing tells every byte apart. */
static void test_digest_tells_codes_apart(void **state)
{
    struct fx *f = *state;
    unsigned char ka[TICKET_DIGEST_LEN], kb[TICKET_DIGEST_LEN];
    unsigned char want[TICKET_DIGEST_LEN], got[TICKET_DIGEST_LEN];
    char code[TICKET_CODE_MAX + 1], other[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {3, 33, 1767225600};

    assert_int_equal(ticket_digest_key(&f->a, ka), 0);
    assert_int_equal(ticket_digest_key(&f->b, kb), 0);
    assert_memory_not_equal(ka, kb, sizeof ka);
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    assert_int_equal(ticket_digest(ka, code, TICKET_CODE_LEN, want), 0);
    assert_int_equal(ticket_digest(ka, code, TICKET_CODE_LEN, got), 0);
    assert_true(ticket_digest_equal(got, want));
    assert_int_equal(ticket_digest(kb, code, TICKET_CODE_LEN, got), 0);
    assert_false(ticket_digest_equal(got, want));
    for (size_t i = 0; i < TICKET_CODE_LEN; i++) {
        memcpy(other, code, TICKET_CODE_LEN + 1);
        other[i] = other[i] == 'A' ? 'B' : 'A';
        assert_int_equal(ticket_digest(ka, other, TICKET_CODE_LEN, got), 0);
        assert_false(ticket_digest_equal(got, want));
    }
    /* b's valid ticket for the same payload under a's kid */
    struct ticket_key forger = f->b; /* shares b's memory: not freed */
    memcpy(forger.kid, f->a.kid, sizeof forger.kid);
    assert_int_equal(ticket_sign(&forger, &f->rng, &p, other, sizeof other), 0);
    assert_int_equal(ticket_digest(ka, other, TICKET_CODE_LEN, got), 0);
    assert_false(ticket_digest_equal(got, want));
    /* a prefix, and no text at all or too much */
    assert_int_equal(ticket_digest(ka, code, TICKET_CODE_LEN - 1, got), 0);
    assert_false(ticket_digest_equal(got, want));
    assert_int_equal(ticket_digest(ka, code, 0, got), KIOSKD_EINVAL);
    assert_int_equal(ticket_digest(ka, NULL, 5, got), KIOSKD_EINVAL);
    assert_int_equal(ticket_digest(ka, code, TICKET_CODE_MAX + 1, got), KIOSKD_EINVAL);
    for (size_t i = 0; i < TICKET_DIGEST_LEN; i++) {
        memcpy(got, want, sizeof got);
        got[i] ^= 0x01;
        assert_false(ticket_digest_equal(got, want));
    }
}

/* ticket_parse reads what ticket_verify reads, without the signature: the
 * same shape rules (every prefix and a wrong version refused), and a forged
 * signature still parses (the caller compares a digest). */
static void test_parse_without_signature(void **state)
{
    struct fx *f = *state;
    struct ticket_payload got;
    char kid[TICKET_KID_LEN + 1], code[TICKET_CODE_MAX + 1];
    const struct ticket_payload p = {INT64_MAX, 5, -1};

    assert_int_equal(ticket_parse(fixed_code, strlen(fixed_code), &got, kid), 0);
    assert_payload_equal(&got, &fixed_payload);
    assert_string_equal(kid, fixed_kid);
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, sizeof code), 0);
    assert_int_equal(ticket_parse(code, TICKET_CODE_LEN, &got, kid), 0);
    assert_payload_equal(&got, &p);
    assert_string_equal(kid, f->a.kid);
    for (size_t n = 0; n < TICKET_CODE_LEN; n++)
        assert_int_equal(ticket_parse(code, n, &got, kid), KIOSKD_EMALFORMED);
    /* inside the signature: its last character also holds padding bits */
    code[TICKET_CODE_LEN - 5] = code[TICKET_CODE_LEN - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(ticket_parse(code, TICKET_CODE_LEN, &got, kid), 0);
    assert_int_equal(ticket_parse(NULL, 10, &got, kid), KIOSKD_EMALFORMED);
    char big[TICKET_CODE_MAX + 2];
    memset(big, 'A', sizeof big);
    memcpy(big, code, TICKET_CODE_LEN);
    assert_int_equal(ticket_parse(big, sizeof big, &got, kid), KIOSKD_EMALFORMED);
}

static void test_sign_buffer_size(void **state)
{
    struct fx *f = *state;
    char code[TICKET_CODE_LEN + 1];
    const struct ticket_payload p = {1, 2, 3};
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, TICKET_CODE_LEN), KIOSKD_ETOOBIG);
    assert_int_equal(ticket_sign(&f->a, &f->rng, &p, code, TICKET_CODE_LEN + 1), 0);
    assert_int_equal(strlen(code), TICKET_CODE_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_round_trip_and_determinism),
        cmocka_unit_test(test_every_single_change_refused),
        cmocka_unit_test(test_prefixes_and_extensions),
        cmocka_unit_test(test_odd_inputs),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_forged_with_known_kid),
        cmocka_unit_test(test_high_s_twin_refused),
        cmocka_unit_test(test_ring_of_two_and_bad_rings),
        cmocka_unit_test(test_public_only_key),
        cmocka_unit_test(test_pem_round_trip),
        cmocka_unit_test(test_bad_pems),
        cmocka_unit_test(test_sign_buffer_size),
        cmocka_unit_test(test_digest_known_answer),
        cmocka_unit_test(test_digest_tells_codes_apart),
        cmocka_unit_test(test_parse_without_signature),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
