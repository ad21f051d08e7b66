/*
 * The WeChat Official Account callback: GET /wechat (URL verification) and
 * POST /wechat (messages and events, plain or safe mode), answered with a
 * passive reply from the chat bot (handlers/bot.h). The crypto and the XML
 * are core/wxcrypto.c and core/wxmsg.c; this file checks the request
 * (signature, the timestamp's age), picks the bot's text from the message,
 * and seals the reply in safe mode.
 */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "core/wxcrypto.h"
#include "core/wxmsg.h"
#include "daemon/log.h"
#include "handlers/bot.h"
#include "handlers/common.h"
#include "handlers/handlers.h"

#define WX_SKEW 300 /* seconds a timestamp may be off */
#define WX_SAFE 2   /* bot_msg.flags: reply in safe mode */
#define WX_REPLY_MAX 16384

/* The signed query of a callback; false when it answered r (401 or 503). */
struct wx_query {
    char signature[WX_SIG_HEX + 2], timestamp[24], nonce[WX_NONCE_MAX + 1];
    char msg_signature[WX_SIG_HEX + 2], encrypt_type[8];
};

static bool wx_check(struct req *r, struct wx_query *q)
{
    struct kioskd *k = r->k;
    if (!k->cfg.wechat_token[0]) {
        req_error(r, 503, "wechat_disabled", "this daemon has no [wechat] token set", NULL);
        return false;
    }
    memset(q, 0, sizeof *q);
    bool have = req_query(r, "signature", q->signature, sizeof q->signature) &&
                req_query(r, "timestamp", q->timestamp, sizeof q->timestamp) &&
                req_query(r, "nonce", q->nonce, sizeof q->nonce);
    req_query(r, "msg_signature", q->msg_signature, sizeof q->msg_signature);
    req_query(r, "encrypt_type", q->encrypt_type, sizeof q->encrypt_type);
    char expected[WX_SIG_HEX + 1];
    if (!have || wx_signature(k->cfg.wechat_token, q->timestamp, q->nonce, expected) != 0 ||
        !wx_sig_equal(expected, q->signature, strlen(q->signature))) {
        log_info("wechat_refused", "reason=signature");
        req_error(r, 401, "bad_signature", "the signature does not match", NULL);
        return false;
    }
    char *end;
    long long ts = strtoll(q->timestamp, &end, 10);
    long long now = (long long)now_s();
    if (*end || end == q->timestamp || ts < now - WX_SKEW || ts > now + WX_SKEW) {
        log_info("wechat_refused", "reason=timestamp");
        req_error(r, 401, "stale_timestamp", "the timestamp is more than 5 minutes off", NULL);
        return false;
    }
    return true;
}

/* GET /wechat?signature=&timestamp=&nonce=&echostr= */
static void wechat_verify(struct req *r)
{
    struct wx_query q;
    if (!wx_check(r, &q))
        return;
    char echo[128];
    if (!req_query(r, "echostr", echo, sizeof echo)) {
        req_error(r, 400, "malformed", "echostr is missing", NULL);
        return;
    }
    req_reply(r, 200, "text/plain; charset=utf-8", echo, strlen(echo));
}

static void wechat_answer(struct req *r, const struct bot_reply_to *to, const char *reply)
{
    struct kioskd *k = r->k;
    struct buf plain, out;
    buf_init(&plain, WX_REPLY_MAX);
    buf_init(&out, WX_REPLY_MAX * 2);
    int rc = wx_reply_text(&plain, to->from, to->to, now_s(), reply);
    if (rc == 0 && (to->flags & WX_SAFE)) {
        unsigned char random[WX_RANDOM_BYTES];
        uint32_t n;
        char nonce[16];
        rc = k->wx_key_rc;
        if (rc == 0 && (rng_bytes(&k->rng, random, sizeof random) != 0 ||
                        rng_bytes(&k->rng, &n, sizeof n) != 0))
            rc = KIOSKD_ECRYPTO;
        if (rc == 0) {
            snprintf(nonce, sizeof nonce, "%u", (unsigned)n);
            struct wx_seal seal = {.key = &k->wx_key,
                                   .appid = k->cfg.wechat_appid,
                                   .token = k->cfg.wechat_token,
                                   .random = random,
                                   .timestamp = now_s(),
                                   .nonce = nonce};
            rc = wx_reply_encrypted(&out, &seal, plain.data, plain.len);
        }
        mbedtls_platform_zeroize(random, sizeof random);
    }
    if (rc) {
        log_warn("wechat_reply_failed", "error=%s", kioskd_strerror(rc));
        req_reply(r, 200, "text/plain; charset=utf-8", "success", 7); /* WeChat: no reply */
    } else {
        struct buf *b = (to->flags & WX_SAFE) ? &out : &plain;
        req_reply(r, 200, "application/xml; charset=utf-8", b->data, b->len);
    }
    buf_free(&plain);
    buf_free(&out);
}

/* POST /wechat?signature=&timestamp=&nonce=[&encrypt_type=aes&msg_signature=] */
static void wechat_message(struct req *r)
{
    struct kioskd *k = r->k;
    struct wx_query q;
    if (!wx_check(r, &q))
        return;
    size_t len;
    const char *body = req_body(r, &len);
    struct wx_msg outer, m;
    memset(&outer, 0, sizeof outer);
    memset(&m, 0, sizeof m);
    const char *why = NULL;
    struct buf inner;
    buf_init(&inner, WX_XML_MAX);
    bool safe = strcmp(q.encrypt_type, "aes") == 0;
    /* one secret salt for the process (expat's own costs a syscall per
     * message); left 0 when the draw fails: expat's own then */
    if (!k->wx_salt && rng_bytes(&k->rng, &k->wx_salt, sizeof k->wx_salt) != 0)
        k->wx_salt = 0;
    int rc = wx_msg_parse_salted(body, len, k->wx_salt, safe ? &outer : &m, &why);
    if (rc == 0 && safe) {
        char expected[WX_SIG_HEX + 1];
        if (!outer.encrypt || !k->cfg.wechat_encoding_aes_key[0] ||
            wx_msg_signature(k->cfg.wechat_token, q.timestamp, q.nonce, outer.encrypt, expected) !=
                0 ||
            !wx_sig_equal(expected, q.msg_signature, strlen(q.msg_signature))) {
            rc = KIOSKD_EAUTH;
            why = "msg_signature";
        } else if ((rc = k->wx_key_rc) == 0) {
            rc = wx_decrypt(&k->wx_key, k->cfg.wechat_appid, outer.encrypt, outer.encrypt_len,
                            &inner);
            why = rc == KIOSKD_EAUTH ? "appid" : "decrypt";
            if (rc == 0)
                rc = wx_msg_parse_salted(inner.data, inner.len, k->wx_salt, &m, &why);
        }
    } else if (rc == 0 && m.encrypt) {
        rc = KIOSKD_EMALFORMED; /* an envelope without encrypt_type=aes */
        why = "envelope in plain mode";
    }
    if (rc) {
        log_info("wechat_refused", "reason=%s", why ? why : kioskd_strerror(rc));
        if (rc == KIOSKD_EAUTH)
            req_error(r, 401, "bad_signature", "the message is not signed or sealed for us", NULL);
        else if (rc == KIOSKD_ETOOBIG)
            req_error(r, 413, "too_large", "the message is too large", NULL);
        else if (rc == KIOSKD_ENOMEM)
            req_fail(r, rc);
        else
            req_error(r, 400, "malformed", "the message is not a WeChat message", NULL);
        goto out;
    }
    char key[WX_USER_MAX + 32];
    struct bot_msg b = {.wechat = true,
                        .from = m.from,
                        .to = m.to,
                        .text = m.content,
                        .len = m.content_len,
                        .key = key,
                        .flags = safe ? WX_SAFE : 0};
    if (m.msg_id[0])
        snprintf(key, sizeof key, "%s", m.msg_id);
    else
        snprintf(key, sizeof key, "%s:%lld", m.from, (long long)m.create_time);
    if (strcmp(m.msg_type, "event") == 0) {
        if (strcmp(m.event, "unsubscribe") == 0) {
            req_reply(r, 200, "text/plain; charset=utf-8", "success", 7);
            goto out;
        }
        if (strcmp(m.event, "subscribe") == 0 || strcmp(m.event, "SCAN") == 0) {
            b.greet = true;
        } else { /* CLICK: the menu's key is the command */
            b.text = m.event_key;
            b.len = strlen(m.event_key);
        }
    } else if (strcmp(m.msg_type, "text") != 0) {
        b.text = "帮助"; /* an image, a voice message...: the help text */
        b.len = strlen(b.text);
    }
    bot_handle(r, &b, wechat_answer);
out:
    wx_msg_free(&outer);
    wx_msg_free(&m);
    if (inner.data)
        mbedtls_platform_zeroize(inner.data, inner.len);
    buf_free(&inner);
}

const struct route wechat_routes[] = {
    {.method = HTTP_GET, .pattern = "/wechat", .fn = wechat_verify},
    {.method = HTTP_POST, .pattern = "/wechat", .body_max = WX_XML_MAX, .fn = wechat_message},
    {0},
};
