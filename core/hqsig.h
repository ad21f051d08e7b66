/*
 * The HQ sync protocol's request signature (CONTRACT.md, "HQ sync protocol"):
 *
 *   Authorization: KIOSKD-HMAC-SHA256 device=<id>,ts=<unix>,sig=<hex>
 *   sig = hex(HMAC-SHA256(secret, method "\n" path_and_query "\n" ts "\n" hex(sha256(body))))
 *
 * The secret is the device's secret as `kioskd hq device add` prints it, used
 * as its bytes (the text itself, not decoded), so that
 * `openssl dgst -sha256 -hmac SECRET` reproduces a signature. The body is the
 * body as sent (after any gzip). Pure: no I/O, no clock; the caller checks
 * the timestamp window and replays.
 */
#ifndef KIOSKD_HQSIG_H
#define KIOSKD_HQSIG_H

#include <stddef.h>
#include <stdint.h>

#define HQSIG_SCHEME "KIOSKD-HMAC-SHA256"
#define HQSIG_HEX 64         /* SHA-256 as lowercase hex */
#define HQSIG_DEVICE_MAX 64  /* device ids: 1 to 64 of [A-Za-z0-9._-] */
#define HQSIG_HEADER_MAX 220 /* a whole header value fits */
#define HQSIG_WINDOW_S 300   /* HQ refuses timestamps further off than this */

/* A parsed Authorization header. */
struct hqsig_auth {
    char device[HQSIG_DEVICE_MAX + 1];
    int64_t ts;
    char sig[HQSIG_HEX + 1]; /* lowercase hex */
};

/* Returns 1 when id is a valid device id (1 to 64 of A-Z a-z 0-9 . _ -), else 0. */
int hqsig_device_ok(const char *id);

/* Writes hex(sha256(body[0..len))) and a NUL into out. Returns 0 or KIOSKD_ECRYPTO. */
int hqsig_body_hash(const void *body, size_t len, char out[HQSIG_HEX + 1]);

/* Writes the signature of a request whose body hash (hqsig_body_hash) is
 * body_hex into sig. Returns 0, KIOSKD_EINVAL (a field holds a newline) or
 * KIOSKD_ECRYPTO. */
int hqsig_sign_hash(const char *secret, size_t secret_len, const char *method,
                    const char *path_query, int64_t ts, const char *body_hex,
                    char sig[HQSIG_HEX + 1]);

/* The same from the body itself. */
int hqsig_sign(const char *secret, size_t secret_len, const char *method, const char *path_query,
               int64_t ts, const void *body, size_t len, char sig[HQSIG_HEX + 1]);

/* Writes the Authorization header value for device, ts and sig into out (n
 * bytes). Returns 0, KIOSKD_EINVAL (bad device or sig) or KIOSKD_ETOOBIG. */
int hqsig_header(const char *device, int64_t ts, const char *sig, char *out, size_t n);

/* Parses an Authorization header value (len bytes, no NUL needed) into a.
 * The three fields must all be there, once each, in any order, with no other
 * field; the scheme is case-sensitive. Returns 0 or KIOSKD_EMALFORMED. */
int hqsig_parse(const char *value, size_t len, struct hqsig_auth *a);

/* Checks a's signature for the request: 0 when it matches (compared in
 * constant time), KIOSKD_EBADSIG when not, KIOSKD_ECRYPTO or KIOSKD_EINVAL. */
int hqsig_verify_hash(const char *secret, size_t secret_len, const char *method,
                      const char *path_query, const char *body_hex, const struct hqsig_auth *a);

/* Returns 1 when ts lies within window seconds of now (either side), else 0. */
int hqsig_fresh(int64_t ts, int64_t now, int64_t window);

#endif
