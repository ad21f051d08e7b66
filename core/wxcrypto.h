/*
 * WeChat Official Account message crypto: the URL-verification signature, the
 * safe-mode msg_signature, and the AES-256-CBC message encryption ("safe
 * mode"). Pure: no I/O, no clock, no random source (the caller passes the 16
 * random bytes). Not for XML (core/wxmsg.h) or HTTP (the webhook handler).
 *
 * Safe-mode plaintext: random[16] || be32(len(msg)) || msg || appid, padded
 * with PKCS#7 to a multiple of 32 bytes (pad values 1..32), encrypted with
 * AES-256-CBC under the key decoded from the 43-character EncodingAESKey, IV
 * = the key's first 16 bytes, then base64. See docs/wechat.md.
 */
#ifndef KIOSKD_WXCRYPTO_H
#define KIOSKD_WXCRYPTO_H

#include <stddef.h>

#include "core/buf.h"

#define WX_SIG_HEX 40       /* SHA-1 as lowercase hex */
#define WX_AES_KEY_CHARS 43 /* EncodingAESKey, base64 without its final '=' */
#define WX_AES_KEY_BYTES 32
#define WX_RANDOM_BYTES 16
#define WX_APPID_MAX 64        /* appids are 18 characters, corp ids a few more */
#define WX_MSG_MAX (64 * 1024) /* longest message encrypted or decrypted */
#define WX_ENCRYPT_MAX 87512   /* base64 of the longest plaintext and padding */
#define WX_SIG_PART_MAX 128    /* token, timestamp and nonce (not Encrypt) */

struct wx_key {
    unsigned char key[WX_AES_KEY_BYTES];
};

/* Decodes the 43-character EncodingAESKey (given without '=') into k;
 * 0 or KIOSKD_EINVAL for any other length or alphabet. Wipe k with wx_key_wipe. */
int wx_key_load(struct wx_key *k, const char *encoding_aes_key, size_t len);
/* Wipes the key (mbedtls_platform_zeroize). Accepts NULL. */
void wx_key_wipe(struct wx_key *k);

/* URL verification: SHA-1 hex of the byte-wise sorted concatenation of token,
 * timestamp and nonce, written to out (40 characters and a NUL).
 * 0, KIOSKD_EINVAL (a part longer than WX_SIG_PART_MAX) or KIOSKD_ECRYPTO. */
int wx_signature(const char *token, const char *timestamp, const char *nonce,
                 char out[WX_SIG_HEX + 1]);
/* Safe mode: the same over token, timestamp, nonce and the Encrypt value
 * (at most WX_ENCRYPT_MAX characters). 0, KIOSKD_EINVAL or KIOSKD_ECRYPTO. */
int wx_msg_signature(const char *token, const char *timestamp, const char *nonce,
                     const char *encrypt, char out[WX_SIG_HEX + 1]);
/* Compares an expected signature with a received one (given_len bytes, not
 * necessarily NUL-terminated) in time independent of their contents;
 * 1 when equal, 0 otherwise. Lengths are not secret. */
int wx_sig_equal(const char *expected, const char *given, size_t given_len);

/* Encrypts msg[0..len) for appid with the caller's 16 random bytes and
 * appends the base64 text to out (which it leaves as it was on failure).
 * 0, KIOSKD_EINVAL (empty or long appid), KIOSKD_ETOOBIG (msg over
 * WX_MSG_MAX or out's ceiling), KIOSKD_ENOMEM or KIOSKD_ECRYPTO. */
int wx_encrypt(const struct wx_key *k, const char *appid,
               const unsigned char random[WX_RANDOM_BYTES], const char *msg, size_t len,
               struct buf *out);
/* Decrypts the base64 Encrypt value b64[0..len) and appends the message to
 * msg (which it leaves as it was on failure). The caller checks
 * msg_signature first. 0, KIOSKD_EMALFORMED (bad base64, a length that is not
 * a multiple of 16, bad padding, a length field past the data),
 * KIOSKD_EAUTH (the appid is not ours), KIOSKD_ETOOBIG (over WX_ENCRYPT_MAX or
 * msg's ceiling), KIOSKD_EINVAL, KIOSKD_ENOMEM or KIOSKD_ECRYPTO. */
int wx_decrypt(const struct wx_key *k, const char *appid, const char *b64, size_t len,
               struct buf *msg);

#endif
