/* The HQ sync request signature: building, parsing and checking it (core/hqsig.h). */
#include "core/hqsig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "core/status.h"

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int hqsig_device_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
        if (n >= HQSIG_DEVICE_MAX)
            return 0;
    }
    return n > 0;
}

int hqsig_body_hash(const void *body, size_t len, char out[HQSIG_HEX + 1])
{
    unsigned char d[32];
    if (mbedtls_sha256_ret(body, len, d, 0) != 0)
        return KIOSKD_ECRYPTO;
    to_hex(d, sizeof d, out);
    return 0;
}

int hqsig_sign_hash(const char *secret, size_t secret_len, const char *method,
                    const char *path_query, int64_t ts, const char *body_hex,
                    char sig[HQSIG_HEX + 1])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t ctx;
    unsigned char mac[32];
    char tsbuf[24];
    int rc = KIOSKD_ECRYPTO;
    sig[0] = '\0';
    if (strchr(method, '\n') || strchr(path_query, '\n') || strlen(body_hex) != HQSIG_HEX)
        return KIOSKD_EINVAL;
    int tn = snprintf(tsbuf, sizeof tsbuf, "%" PRId64, ts);
    mbedtls_md_init(&ctx);
    if (!md || mbedtls_md_setup(&ctx, md, 1) != 0 ||
        mbedtls_md_hmac_starts(&ctx, (const unsigned char *)secret, secret_len) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)method, strlen(method)) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)"\n", 1) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)path_query, strlen(path_query)) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)"\n", 1) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)tsbuf, (size_t)tn) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)"\n", 1) != 0 ||
        mbedtls_md_hmac_update(&ctx, (const unsigned char *)body_hex, HQSIG_HEX) != 0 ||
        mbedtls_md_hmac_finish(&ctx, mac) != 0)
        goto out;
    to_hex(mac, sizeof mac, sig);
    rc = 0;
out:
    mbedtls_md_free(&ctx);
    mbedtls_platform_zeroize(mac, sizeof mac);
    return rc;
}

int hqsig_sign(const char *secret, size_t secret_len, const char *method, const char *path_query,
               int64_t ts, const void *body, size_t len, char sig[HQSIG_HEX + 1])
{
    char h[HQSIG_HEX + 1];
    int rc = hqsig_body_hash(body, len, h);
    return rc ? rc : hqsig_sign_hash(secret, secret_len, method, path_query, ts, h, sig);
}

static int hex_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int hqsig_header(const char *device, int64_t ts, const char *sig, char *out, size_t n)
{
    if (!hqsig_device_ok(device) || strlen(sig) != HQSIG_HEX || !hex_ok(sig, HQSIG_HEX) || ts < 0)
        return KIOSKD_EINVAL;
    int m = snprintf(out, n, HQSIG_SCHEME " device=%s,ts=%" PRId64 ",sig=%s", device, ts, sig);
    return m < 0 || (size_t)m >= n ? KIOSKD_ETOOBIG : 0;
}

int hqsig_parse(const char *value, size_t len, struct hqsig_auth *a)
{
    const size_t slen = sizeof HQSIG_SCHEME - 1;
    int seen = 0;
    memset(a, 0, sizeof *a);
    if (len < slen + 1 || memcmp(value, HQSIG_SCHEME, slen) != 0 || value[slen] != ' ')
        return KIOSKD_EMALFORMED;
    const char *p = value + slen + 1, *end = value + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fe = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(fe - p));
        if (!eq)
            return KIOSKD_EMALFORMED;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(fe - eq - 1);
        const char *v = eq + 1;
        if (klen == 6 && memcmp(p, "device", 6) == 0 && !(seen & 1)) {
            if (vlen == 0 || vlen > HQSIG_DEVICE_MAX)
                return KIOSKD_EMALFORMED;
            memcpy(a->device, v, vlen);
            a->device[vlen] = '\0';
            if (!hqsig_device_ok(a->device))
                return KIOSKD_EMALFORMED;
            seen |= 1;
        } else if (klen == 2 && memcmp(p, "ts", 2) == 0 && !(seen & 2)) {
            int64_t t = 0;
            if (vlen == 0 || vlen > 12)
                return KIOSKD_EMALFORMED;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return KIOSKD_EMALFORMED;
                t = t * 10 + (v[i] - '0');
            }
            a->ts = t;
            seen |= 2;
        } else if (klen == 3 && memcmp(p, "sig", 3) == 0 && !(seen & 4)) {
            if (vlen != HQSIG_HEX || !hex_ok(v, vlen))
                return KIOSKD_EMALFORMED;
            memcpy(a->sig, v, vlen);
            a->sig[vlen] = '\0';
            seen |= 4;
        } else {
            return KIOSKD_EMALFORMED;
        }
        if (!comma)
            break;
        p = comma + 1;
        if (p == end)
            return KIOSKD_EMALFORMED; /* a trailing comma */
    }
    return seen == 7 ? 0 : KIOSKD_EMALFORMED;
}

int hqsig_verify_hash(const char *secret, size_t secret_len, const char *method,
                      const char *path_query, const char *body_hex, const struct hqsig_auth *a)
{
    char want[HQSIG_HEX + 1];
    int rc = hqsig_sign_hash(secret, secret_len, method, path_query, a->ts, body_hex, want);
    if (rc)
        return rc;
    if (strlen(a->sig) != HQSIG_HEX)
        return KIOSKD_EBADSIG;
    rc = mbedtls_ct_memcmp(want, a->sig, HQSIG_HEX) == 0 ? 0 : KIOSKD_EBADSIG;
    mbedtls_platform_zeroize(want, sizeof want);
    return rc;
}

int hqsig_fresh(int64_t ts, int64_t now, int64_t window)
{
    int64_t d = ts > now ? ts - now : now - ts;
    return d <= window;
}
