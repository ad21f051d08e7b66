/*
 * WeChat message XML: a bounded expat parse into struct wx_msg, and the
 * passive reply writers. Hostile input is the norm here: no DTD is accepted
 * (so no entity of any kind beyond the five predefined ones), and size,
 * depth, element count and every field's length are bounded before anything
 * is copied. Not for the crypto (core/wxcrypto.c) or HTTP.
 */
#include "core/wxmsg.h"

#include <expat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

enum kind {
    K_LINE,    /* UTF-8 without control characters, not empty */
    K_OPTLINE, /* the same, may be empty */
    K_TEXT,    /* UTF-8; tab, LF and CR allowed; may be empty */
    K_TIME,    /* decimal seconds, 1..19 digits */
    K_DIGITS,  /* decimal id, 1..WX_MSGID_MAX digits, kept as text */
    K_ENCRYPT, /* Encrypt: a line, kept in an allocated copy */
};

struct field_def {
    const char *name;
    unsigned bit;
    enum kind kind;
    size_t off; /* of the char array in struct wx_msg, for text kinds */
    size_t max;
};

#define F(name, bit, kind, member, max)                                                            \
    {                                                                                              \
        name, bit, kind, offsetof(struct wx_msg, member), max                                      \
    }
static const struct field_def fields[] = {
    F("ToUserName", WX_TO, K_LINE, to, WX_USER_MAX),
    F("FromUserName", WX_FROM, K_LINE, from, WX_USER_MAX),
    F("CreateTime", WX_CREATETIME, K_TIME, create_time, 19),
    F("MsgType", WX_MSGTYPE, K_LINE, msg_type, WX_WORD_MAX),
    F("Content", WX_CONTENT, K_TEXT, content, WX_CONTENT_MAX),
    F("MsgId", WX_MSGID, K_DIGITS, msg_id, WX_MSGID_MAX),
    F("Event", WX_EVENT, K_LINE, event, WX_WORD_MAX),
    F("EventKey", WX_EVENTKEY, K_OPTLINE, event_key, WX_EVENTKEY_MAX),
    F("Encrypt", WX_ENCRYPT, K_ENCRYPT, encrypt, WX_ENCRYPT_MAX),
    F("MsgSignature", WX_MSGSIG, K_LINE, msg_signature, WX_SIG_HEX),
    F("TimeStamp", WX_TIMESTAMP, K_LINE, timestamp, WX_NONCE_MAX),
    F("Nonce", WX_NONCE, K_LINE, nonce, WX_NONCE_MAX),
};
#undef F

/*
 * 1 when s[0..n) is UTF-8 (shortest form, no surrogates, at most U+10FFFF)
 * made of XML characters without controls: no C0 (but tab, LF and CR when
 * ws), no DEL, no C1, no U+FFFE or U+FFFF.
 */
static int text_ok(const unsigned char *s, size_t n, int ws)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && !(ws && (c == '\t' || c == '\n' || c == '\r'))) || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        unsigned cp, need, min;
        if (c >= 0xc2 && c <= 0xdf) {
            cp = c & 0x1f;
            need = 1;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            cp = c & 0x0f;
            need = 2;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            cp = c & 0x07;
            need = 3;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe ||
            cp == 0xffff || (cp >= 0x80 && cp <= 0x9f))
            return 0;
        i += need + 1;
    }
    return 1;
}

struct pstate {
    XML_Parser p;
    struct wx_msg *m;
    unsigned depth;
    unsigned elements;
    const struct field_def *cur; /* the field whose text is being collected */
    struct buf text;
    int rc;
    const char *why;
};

static void fail(struct pstate *st, int rc, const char *why)
{
    if (st->rc == 0) {
        st->rc = rc;
        st->why = why;
    }
    XML_StopParser(st->p, XML_FALSE);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(ud, KIOSKD_EMALFORMED, "a DOCTYPE (no DTD is accepted)");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    fail(ud, KIOSKD_EMALFORMED, "an entity declaration");
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct pstate *st = ud;
    (void)attrs; /* WeChat sends none; any are ignored */
    if (st->rc != 0)
        return;
    if (++st->elements > WX_XML_ELEMENTS_MAX) {
        fail(st, KIOSKD_ETOOBIG, "too many elements");
        return;
    }
    if (++st->depth > WX_XML_DEPTH_MAX) {
        fail(st, KIOSKD_ETOOBIG, "nested too deep");
        return;
    }
    if (st->depth == 1) {
        if (strcmp(name, "xml") != 0)
            fail(st, KIOSKD_EMALFORMED, "the root element is not <xml>");
        return;
    }
    if (st->cur != NULL) {
        fail(st, KIOSKD_EMALFORMED, "an element inside a field");
        return;
    }
    if (st->depth != 2)
        return;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(name, fields[i].name) != 0)
            continue;
        if (st->m->have & fields[i].bit) {
            fail(st, KIOSKD_EMALFORMED, "a repeated field");
            return;
        }
        st->cur = &fields[i];
        buf_reset(&st->text);
        st->text.max = fields[i].max;
        return;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct pstate *st = ud;
    if (st->rc != 0 || len <= 0)
        return;
    if (st->cur != NULL) {
        int rc = buf_append(&st->text, s, (size_t)len);
        if (rc != 0)
            fail(st, rc, rc == KIOSKD_ETOOBIG ? "a field is too long" : "out of memory");
        return;
    }
    if (st->depth == 1) {
        for (int i = 0; i < len; i++) {
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
                fail(st, KIOSKD_EMALFORMED, "text outside a field");
                return;
            }
        }
    }
}

/* Parses 1..max decimal digits; 0 or -1. */
static int parse_digits(const char *s, size_t n, size_t max, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > max)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (out != NULL) {
            if (v > (INT64_MAX - d) / 10)
                return -1;
            v = v * 10 + d;
        }
    }
    if (out != NULL)
        *out = v;
    return 0;
}

static void finish_field(struct pstate *st)
{
    const struct field_def *f = st->cur;
    struct wx_msg *m = st->m;
    const char *s = st->text.data != NULL ? st->text.data : "";
    size_t n = st->text.len;

    st->cur = NULL;
    switch (f->kind) {
    case K_TIME:
        if (parse_digits(s, n, f->max, &m->create_time) != 0) {
            fail(st, KIOSKD_EMALFORMED, "CreateTime is not a number of seconds");
            return;
        }
        break;
    case K_DIGITS:
        if (parse_digits(s, n, f->max, NULL) != 0) {
            fail(st, KIOSKD_EMALFORMED, "MsgId is not a number");
            return;
        }
        memcpy((char *)m + f->off, s, n + 1);
        break;
    case K_ENCRYPT:
        if (n == 0 || !text_ok((const unsigned char *)s, n, 0)) {
            fail(st, KIOSKD_EMALFORMED, "Encrypt is empty or has a control character");
            return;
        }
        m->encrypt = buf_steal(&st->text, &m->encrypt_len);
        break;
    case K_LINE:
    case K_OPTLINE:
    case K_TEXT:
        if ((f->kind == K_LINE && n == 0) ||
            !text_ok((const unsigned char *)s, n, f->kind == K_TEXT)) {
            fail(st, KIOSKD_EMALFORMED, "a field is empty or has a control character");
            return;
        }
        memcpy((char *)m + f->off, s, n + 1);
        if (f->bit == WX_CONTENT)
            m->content_len = n;
        break;
    }
    m->have |= f->bit;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct pstate *st = ud;
    (void)name;
    if (st->rc != 0)
        return;
    if (st->depth == 2 && st->cur != NULL)
        finish_field(st);
    st->depth--;
}

static int check_required(const struct wx_msg *m, const char **why)
{
    const unsigned plain = WX_TO | WX_FROM | WX_CREATETIME | WX_MSGTYPE;
    if (m->have & WX_ENCRYPT)
        return 0;
    if ((m->have & plain) != plain) {
        *why = "a required field is missing";
        return KIOSKD_EMALFORMED;
    }
    if (strcmp(m->msg_type, "text") == 0 && !(m->have & WX_CONTENT)) {
        *why = "a text message without Content";
        return KIOSKD_EMALFORMED;
    }
    if (strcmp(m->msg_type, "event") == 0 && !(m->have & WX_EVENT)) {
        *why = "an event without Event";
        return KIOSKD_EMALFORMED;
    }
    return 0;
}

int wx_msg_parse(const char *xml, size_t len, struct wx_msg *m, const char **why)
{
    return wx_msg_parse_salted(xml, len, 0, m, why);
}

int wx_msg_parse_salted(const char *xml, size_t len, unsigned long salt, struct wx_msg *m,
                        const char **why)
{
    struct pstate st;
    const char *dummy;
    int rc;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    memset(m, 0, sizeof *m);
    if (xml == NULL || len == 0) {
        *why = "an empty body";
        return KIOSKD_EMALFORMED;
    }
    if (len > WX_XML_MAX) {
        *why = "the body is too large";
        return KIOSKD_ETOOBIG;
    }
    memset(&st, 0, sizeof st);
    st.m = m;
    buf_init(&st.text, 0);
    /* The encoding given here overrides any declaration in the document. */
    st.p = XML_ParserCreate("UTF-8");
    if (st.p == NULL) {
        *why = "out of memory";
        return KIOSKD_ENOMEM;
    }
    if (salt)
        XML_SetHashSalt(st.p, salt);
    XML_SetUserData(st.p, &st);
    XML_SetElementHandler(st.p, on_start, on_end);
    XML_SetCharacterDataHandler(st.p, on_text);
    XML_SetStartDoctypeDeclHandler(st.p, on_doctype);
    XML_SetEntityDeclHandler(st.p, on_entity_decl);
    XML_SetParamEntityParsing(st.p, XML_PARAM_ENTITY_PARSING_NEVER);

    if (XML_Parse(st.p, xml, (int)len, XML_TRUE) != XML_STATUS_OK && st.rc == 0) {
        enum XML_Error e = XML_GetErrorCode(st.p);
        st.rc = e == XML_ERROR_NO_MEMORY ? KIOSKD_ENOMEM : KIOSKD_EMALFORMED;
        st.why = XML_ErrorString(e);
    }
    rc = st.rc;
    *why = st.why;
    if (rc == 0)
        rc = check_required(m, why);
    XML_ParserFree(st.p);
    buf_free(&st.text);
    if (rc != 0)
        wx_msg_free(m);
    return rc;
}

void wx_msg_free(struct wx_msg *m)
{
    if (m == NULL)
        return;
    free(m->encrypt);
    m->encrypt = NULL;
    m->encrypt_len = 0;
}

/*
 * Puts s inside CDATA sections: each "]]>" is split across two of them, and
 * each CR goes between two as "&#13;", since a parser reads a raw CR in
 * CDATA as LF.
 */
static int put_cdata(struct buf *b, const char *s)
{
    const char *run = s;
    int rc = buf_puts(b, "<![CDATA[");
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        if (*p == '\r') {
            rc = buf_append(b, run, (size_t)(p - run));
            if (rc == 0)
                rc = buf_puts(b, "]]>&#13;<![CDATA[");
            run = p + 1;
        } else if (p[0] == ']' && p[1] == ']' && p[2] == '>') {
            rc = buf_append(b, run, (size_t)(p - run) + 2);
            if (rc == 0)
                rc = buf_puts(b, "]]><![CDATA[");
            run = p + 2;
            p++; /* the '>' starts the next section */
        }
    }
    if (rc == 0)
        rc = buf_puts(b, run);
    if (rc == 0)
        rc = buf_puts(b, "]]>");
    return rc;
}

static int put_cdata_elem(struct buf *b, const char *name, const char *value)
{
    int rc = buf_printf(b, "<%s>", name);
    if (rc == 0)
        rc = put_cdata(b, value);
    if (rc == 0)
        rc = buf_printf(b, "</%s>", name);
    return rc;
}

/* Puts out back to its first n bytes. */
static void buf_cut(struct buf *out, size_t n)
{
    if (out->data != NULL) {
        out->len = n;
        out->data[n] = '\0';
    }
}

static int line_ok(const char *s, size_t max)
{
    size_t n;
    return s != NULL && (n = strnlen(s, max + 1)) > 0 && n <= max &&
           text_ok((const unsigned char *)s, n, 0);
}

int wx_reply_text(struct buf *out, const char *to, const char *from, int64_t create_time,
                  const char *content)
{
    size_t start = out->len;
    int rc;

    if (!line_ok(to, WX_USER_MAX) || !line_ok(from, WX_USER_MAX) || create_time < 0 ||
        content == NULL || !text_ok((const unsigned char *)content, strlen(content), 1))
        return KIOSKD_EINVAL;
    rc = buf_puts(out, "<xml>");
    if (rc == 0)
        rc = put_cdata_elem(out, "ToUserName", to);
    if (rc == 0)
        rc = put_cdata_elem(out, "FromUserName", from);
    if (rc == 0)
        rc = buf_printf(out, "<CreateTime>%" PRId64 "</CreateTime>", create_time);
    if (rc == 0)
        rc = buf_puts(out, "<MsgType><![CDATA[text]]></MsgType>");
    if (rc == 0)
        rc = put_cdata_elem(out, "Content", content);
    if (rc == 0)
        rc = buf_puts(out, "</xml>");
    if (rc != 0)
        buf_cut(out, start);
    return rc;
}

static int nonce_ok(const char *s)
{
    size_t n = s != NULL ? strnlen(s, WX_NONCE_MAX + 1) : 0;
    if (n == 0 || n > WX_NONCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

int wx_reply_encrypted(struct buf *out, const struct wx_seal *s, const char *xml, size_t len)
{
    struct buf enc;
    char ts[24], sig[WX_SIG_HEX + 1];
    size_t start = out->len;
    int rc;

    if (s == NULL || s->key == NULL || s->token == NULL || s->random == NULL || s->timestamp < 0 ||
        !nonce_ok(s->nonce))
        return KIOSKD_EINVAL;
    buf_init(&enc, WX_ENCRYPT_MAX);
    snprintf(ts, sizeof ts, "%" PRId64, s->timestamp);
    rc = wx_encrypt(s->key, s->appid, s->random, xml, len, &enc);
    if (rc == 0)
        rc = wx_msg_signature(s->token, ts, s->nonce, enc.data, sig);
    if (rc != 0)
        goto out;
    rc = buf_puts(out, "<xml>");
    if (rc == 0)
        rc = put_cdata_elem(out, "Encrypt", enc.data);
    if (rc == 0)
        rc = put_cdata_elem(out, "MsgSignature", sig);
    if (rc == 0)
        rc = buf_printf(out, "<TimeStamp>%s</TimeStamp>", ts);
    if (rc == 0)
        rc = put_cdata_elem(out, "Nonce", s->nonce);
    if (rc == 0)
        rc = buf_puts(out, "</xml>");
    if (rc != 0)
        buf_cut(out, start);
out:
    buf_free(&enc);
    return rc;
}
