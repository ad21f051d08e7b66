/*
 * The HQ sync request signature: known answers computed outside kioskd (the
 * values below come from Python's hmac and hashlib, and the first one again
 * from `openssl dgst -sha256 -hmac`), every part of a signed request
 * tampered with, and the header parser's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/hqsig.h"
#include "core/status.h"

static const char secret[] = "3f6c1a2b9d8e7f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";
static const char body[] = "{\"device\":\"branch-001\",\"entries\":[]}";
static const char body_hex[] = "ba36615bb439600218feec4487a914566f2864f5464dd59b7685aaa47ce3f084";
static const char push_sig[] = "c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6d87edc39439e";
static const char empty_hex[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char pull_sig[] = "bd8e5fc5fdaa3b30fc9783fa9690ad1f208f7304fb4fbfdb15e7ce7822bde75c";
#define TS 1767225600

static void known_answers(void **state)
{
    (void)state;
    char h[HQSIG_HEX + 1], sig[HQSIG_HEX + 1];
    assert_int_equal(hqsig_body_hash(body, strlen(body), h), 0);
    assert_string_equal(h, body_hex);
    assert_int_equal(hqsig_body_hash("", 0, h), 0);
    assert_string_equal(h, empty_hex);
    assert_int_equal(
        hqsig_sign(secret, strlen(secret), "POST", "/sync/v1/push", TS, body, strlen(body), sig),
        0);
    assert_string_equal(sig, push_sig);
    assert_int_equal(hqsig_sign(secret, strlen(secret), "GET", "/sync/v1/pull?since=0&limit=100",
                                TS, "", 0, sig),
                     0);
    assert_string_equal(sig, pull_sig);
}

static void header_round_trip(void **state)
{
    (void)state;
    char hdr[HQSIG_HEADER_MAX];
    struct hqsig_auth a;
    assert_int_equal(hqsig_header("branch-001", TS, push_sig, hdr, sizeof hdr), 0);
    assert_string_equal(hdr, "KIOSKD-HMAC-SHA256 device=branch-001,ts=1767225600,sig=" //
                             "c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6d87edc39439e");
    assert_int_equal(hqsig_parse(hdr, strlen(hdr), &a), 0);
    assert_string_equal(a.device, "branch-001");
    assert_int_equal(a.ts, TS);
    assert_string_equal(a.sig, push_sig);
    assert_int_equal(
        hqsig_verify_hash(secret, strlen(secret), "POST", "/sync/v1/push", body_hex, &a), 0);
    /* fields in another order parse the same */
    const char *other =
        "KIOSKD-HMAC-SHA256 sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6d"
        "87edc39439e,ts=1767225600,device=branch-001";
    assert_int_equal(hqsig_parse(other, strlen(other), &a), 0);
    assert_int_equal(
        hqsig_verify_hash(secret, strlen(secret), "POST", "/sync/v1/push", body_hex, &a), 0);
    /* too small a buffer, a bad device id */
    assert_int_equal(hqsig_header("branch-001", TS, push_sig, hdr, 40), KIOSKD_ETOOBIG);
    assert_int_equal(hqsig_header("bad id", TS, push_sig, hdr, sizeof hdr), KIOSKD_EINVAL);
    assert_int_equal(hqsig_header("b", TS, "C80F", hdr, sizeof hdr), KIOSKD_EINVAL);
}

/* Every part of the request changed alone makes the signature fail. */
static void tampering(void **state)
{
    (void)state;
    struct hqsig_auth a = {.device = "branch-001", .ts = TS};
    memcpy(a.sig, push_sig, sizeof push_sig);
    char h[HQSIG_HEX + 1];
    const size_t sl = strlen(secret);
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push", body_hex, &a), 0);
    /* the method, the path, a query added */
    assert_int_equal(hqsig_verify_hash(secret, sl, "GET", "/sync/v1/push", body_hex, &a),
                     KIOSKD_EBADSIG);
    assert_int_equal(hqsig_verify_hash(secret, sl, "post", "/sync/v1/push", body_hex, &a),
                     KIOSKD_EBADSIG);
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/pull", body_hex, &a),
                     KIOSKD_EBADSIG);
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push?x=1", body_hex, &a),
                     KIOSKD_EBADSIG);
    /* every byte of the body */
    char b[sizeof body];
    for (size_t i = 0; i < strlen(body); i++) {
        memcpy(b, body, sizeof body);
        b[i] ^= 1;
        assert_int_equal(hqsig_body_hash(b, strlen(body), h), 0);
        assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push", h, &a),
                         KIOSKD_EBADSIG);
    }
    /* a byte more or less */
    assert_int_equal(hqsig_body_hash(body, strlen(body) - 1, h), 0);
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push", h, &a), KIOSKD_EBADSIG);
    /* the timestamp */
    a.ts = TS + 1;
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push", body_hex, &a),
                     KIOSKD_EBADSIG);
    a.ts = TS;
    /* every character of the signature */
    for (size_t i = 0; i < HQSIG_HEX; i++) {
        struct hqsig_auth t = a;
        t.sig[i] = t.sig[i] == '0' ? '1' : '0';
        assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push", body_hex, &t),
                         KIOSKD_EBADSIG);
    }
    /* every byte of the secret, and a secret a byte short */
    char s[sizeof secret];
    for (size_t i = 0; i < sl; i++) {
        memcpy(s, secret, sizeof secret);
        s[i] ^= 1;
        assert_int_equal(hqsig_verify_hash(s, sl, "POST", "/sync/v1/push", body_hex, &a),
                         KIOSKD_EBADSIG);
    }
    assert_int_equal(hqsig_verify_hash(secret, sl - 1, "POST", "/sync/v1/push", body_hex, &a),
                     KIOSKD_EBADSIG);
    /* a newline in a signed field cannot shift the fields */
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST\n/sync/v1/push", "", body_hex, &a),
                     KIOSKD_EINVAL);
    /* a truncated signature */
    a.sig[10] = '\0';
    assert_int_equal(hqsig_verify_hash(secret, sl, "POST", "/sync/v1/push", body_hex, &a),
                     KIOSKD_EBADSIG);
}

static void parse_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "KIOSKD-HMAC-SHA256",
        "KIOSKD-HMAC-SHA256 ",
        "kioskd-hmac-sha256 device=b,ts=1,sig="
        "c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6d87edc39439e",
        "Bearer abc",
        "KIOSKD-HMAC-SHA256 device=b,ts=1", /* no sig */
        "KIOSKD-HMAC-SHA256 ts=1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6d87edc3943"
        "9e", /* no device */
        "KIOSKD-HMAC-SHA256 device=b,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6d87edc"
        "39439e", /* no ts */
        "KIOSKD-HMAC-SHA256 device=b,ts=1,sig=C80F8B878FFCF3857FFDAA4A53AD9FD12C86BA56313CB04D13B6"
        "D87EDC39439E", /* uppercase */
        "KIOSKD-HMAC-SHA256 device=b,ts=1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6"
        "d87edc39439", /* short */
        "KIOSKD-HMAC-SHA256 device=b,ts=-1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b"
        "6d87edc39439e", /* negative */
        "KIOSKD-HMAC-SHA256 device=b,ts=1,ts=2,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04"
        "d13b6d87edc39439e", /* twice */
        "KIOSKD-HMAC-SHA256 device=b,ts=1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b6"
        "d87edc39439e,", /* trailing */
        "KIOSKD-HMAC-SHA256 device=b c,ts=1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13"
        "b6d87edc39439e", /* bad id */
        "KIOSKD-HMAC-SHA256 device=b,ts=1,x=2,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d"
        "13b6d87edc39439e", /* unknown */
        "KIOSKD-HMAC-SHA256 device=b, ts=1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56313cb04d13b"
        "6d87edc39439e", /* a space */
        "KIOSKD-HMAC-SHA256 device=b,ts=9999999999999,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba56"
        "313cb04d13b6d87edc39439e", /* too long */
    };
    struct hqsig_auth a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hqsig_parse(bad[i], strlen(bad[i]), &a) != KIOSKD_EMALFORMED)
            fail_msg("parsed: '%s'", bad[i]);
    /* a value with bytes after the given length is read only up to it */
    const char *ok = "KIOSKD-HMAC-SHA256 device=b,ts=1,sig=c80f8b878ffcf3857ffdaa4a53ad9fd12c86ba"
                     "56313cb04d13b6d87edc39439eXYZ";
    assert_int_equal(hqsig_parse(ok, strlen(ok) - 3, &a), 0);
    assert_int_equal(hqsig_parse(ok, strlen(ok), &a), KIOSKD_EMALFORMED);
}

static void device_ids_and_window(void **state)
{
    (void)state;
    char id[80];
    assert_true(hqsig_device_ok("branch-001"));
    assert_true(hqsig_device_ok("A.b_c-9"));
    assert_false(hqsig_device_ok(""));
    assert_false(hqsig_device_ok("a/b"));
    assert_false(hqsig_device_ok("a b"));
    assert_false(hqsig_device_ok("支行"));
    memset(id, 'a', 64);
    id[64] = '\0';
    assert_true(hqsig_device_ok(id));
    id[64] = 'a';
    id[65] = '\0';
    assert_false(hqsig_device_ok(id));
    assert_true(hqsig_fresh(1000, 1300, 300));
    assert_true(hqsig_fresh(1300, 1000, 300));
    assert_false(hqsig_fresh(1000, 1301, 300));
    assert_false(hqsig_fresh(1301, 1000, 300));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answers),
        cmocka_unit_test(header_round_trip),
        cmocka_unit_test(tampering),
        cmocka_unit_test(parse_refusals),
        cmocka_unit_test(device_ids_and_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
