/*
 * libFuzzer target for the WeChat message path. The first byte chooses what
 * the rest goes through (in a block of exactly that many bytes):
 *   0  wx_msg_parse; a parsed text message's reply must parse back to it
 *   1  wx_decrypt with a fixed key and appid; a message must then parse or
 *      be refused cleanly
 *   2  the safe-mode body: parse the envelope, decrypt Encrypt, parse that
 *   3  wx_encrypt then wx_decrypt: must give the bytes back
 * Any other result than a documented status aborts. The key and appid are
 * the first case of the shared conformance vectors, so the seeds in
 * tests/fuzz/corpus/wxmsg/ reach the inner parse. Build and run: make fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/status.h"
#include "core/wxcrypto.h"
#include "core/wxmsg.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static const char key43[] = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
static const char appid[] = "wx49f0ab532d5d035a";

/* Process-wide: libFuzzer runs inputs one at a time on one thread. */
static struct wx_key key;
static struct wx_msg msg, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse_status(int rc)
{
    return rc == 0 || rc == KIOSKD_EMALFORMED || rc == KIOSKD_ETOOBIG;
}

static int decrypt_status(int rc)
{
    return rc == 0 || rc == KIOSKD_EMALFORMED || rc == KIOSKD_EAUTH || rc == KIOSKD_ETOOBIG;
}

/* A parsed text message answered with its own content reads back the same. */
static void reply_round_trip(const struct wx_msg *m)
{
    struct buf b;
    if (!(m->have & WX_CONTENT) || !(m->have & WX_TO) || !(m->have & WX_FROM))
        return;
    buf_init(&b, 2 * WX_XML_MAX);
    int rc = wx_reply_text(&b, m->from, m->to, m->create_time, m->content);
    CHECK(rc == 0);
    const char *why = NULL;
    rc = wx_msg_parse(b.data, b.len, &again, &why);
    /* "]]>" splitting can grow a long Content past the body limit */
    CHECK(rc == 0 || (rc == KIOSKD_ETOOBIG && b.len > WX_XML_MAX));
    if (rc == 0) {
        CHECK(strcmp(again.to, m->from) == 0 && strcmp(again.from, m->to) == 0);
        CHECK(again.create_time == m->create_time);
        CHECK(again.content_len == m->content_len);
        CHECK(memcmp(again.content, m->content, m->content_len) == 0);
    }
    wx_msg_free(&again);
    buf_free(&b);
}

static void parse_decrypted(const char *s, size_t n)
{
    int rc = wx_msg_parse(s, n, &again, NULL);
    CHECK(parse_status(rc));
    wx_msg_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct buf out;
    int rc;

    if (!ready) {
        CHECK(wx_key_load(&key, key43, sizeof key43 - 1) == 0);
        ready = 1;
    }
    if (size < 1)
        return 0;
    unsigned path = data[0] % 4;
    size_t n = size - 1;
    char *in = malloc(n > 0 ? n : 1);
    CHECK(in != NULL);
    if (n > 0)
        memcpy(in, data + 1, n);
    buf_init(&out, WX_MSG_MAX);

    switch (path) {
    case 0:
        rc = wx_msg_parse(in, n, &msg, NULL);
        CHECK(parse_status(rc));
        if (rc == 0)
            reply_round_trip(&msg);
        wx_msg_free(&msg);
        break;
    case 1:
        rc = wx_decrypt(&key, appid, in, n, &out);
        CHECK(decrypt_status(rc));
        if (rc == 0) {
            CHECK(out.len <= n);
            parse_decrypted(out.data, out.len);
        } else {
            CHECK(out.len == 0);
        }
        break;
    case 2:
        rc = wx_msg_parse(in, n, &msg, NULL);
        CHECK(parse_status(rc));
        if (rc == 0 && msg.encrypt != NULL) {
            rc = wx_decrypt(&key, appid, msg.encrypt, msg.encrypt_len, &out);
            CHECK(decrypt_status(rc));
            if (rc == 0)
                parse_decrypted(out.data, out.len);
        }
        wx_msg_free(&msg);
        break;
    default: {
        static const unsigned char rnd[WX_RANDOM_BYTES] = "0123456789abcdef";
        struct buf enc;
        buf_init(&enc, WX_ENCRYPT_MAX);
        rc = wx_encrypt(&key, appid, rnd, in, n, &enc);
        CHECK(rc == 0 || (rc == KIOSKD_ETOOBIG && n > WX_MSG_MAX));
        if (rc == 0) {
            CHECK(wx_decrypt(&key, appid, enc.data, enc.len, &out) == 0);
            CHECK(out.len == n && (n == 0 || memcmp(out.data, in, n) == 0));
        }
        buf_free(&enc);
        break;
    }
    }
    buf_free(&out);
    free(in);
    return 0;
}
