/*
 * WeChat message XML: parsing a callback body (plain message or safe-mode
 * envelope) with expat into a struct of bounded fields, and writing passive
 * replies (plain text and the encrypted envelope). Pure: no I/O. Not for the
 * crypto (core/wxcrypto.h) or the commands. Limits and refusals: docs/wechat.md.
 */
#ifndef KIOSKD_WXMSG_H
#define KIOSKD_WXMSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/wxcrypto.h"

#define WX_XML_MAX (64 * 1024)  /* a body, plain or decrypted */
#define WX_XML_DEPTH_MAX 8      /* <xml> is depth 1; WeChat's events go to 4 */
#define WX_XML_ELEMENTS_MAX 256 /* elements in one body */

#define WX_USER_MAX 64 /* ToUserName, FromUserName: an openid is 28, gh_ ids 15 */
#define WX_WORD_MAX 32 /* MsgType, Event */
#define WX_EVENTKEY_MAX 512
#define WX_CONTENT_MAX 8192 /* bytes of UTF-8 */
#define WX_MSGID_MAX 20     /* digits of a 64-bit id */
#define WX_NONCE_MAX 64     /* Nonce, TimeStamp of an envelope */

/* Which fields a message had (bits of wx_msg.have). */
enum wx_field {
    WX_TO = 1u << 0,
    WX_FROM = 1u << 1,
    WX_CREATETIME = 1u << 2,
    WX_MSGTYPE = 1u << 3,
    WX_CONTENT = 1u << 4,
    WX_MSGID = 1u << 5,
    WX_EVENT = 1u << 6,
    WX_EVENTKEY = 1u << 7,
    WX_ENCRYPT = 1u << 8,
    WX_MSGSIG = 1u << 9,
    WX_TIMESTAMP = 1u << 10,
    WX_NONCE = 1u << 11,
};

/* One parsed body. Text fields are NUL-terminated UTF-8, "" when absent. */
struct wx_msg {
    unsigned have; /* enum wx_field bits */
    char to[WX_USER_MAX + 1];
    char from[WX_USER_MAX + 1];
    int64_t create_time;
    char msg_type[WX_WORD_MAX + 1];
    char content[WX_CONTENT_MAX + 1];
    size_t content_len;
    char msg_id[WX_MSGID_MAX + 1]; /* digits, kept as text */
    char event[WX_WORD_MAX + 1];
    char event_key[WX_EVENTKEY_MAX + 1];
    char *encrypt; /* safe mode: the Encrypt value (owned), else NULL */
    size_t encrypt_len;
    char msg_signature[WX_SIG_HEX + 1]; /* of an encrypted reply */
    char timestamp[WX_NONCE_MAX + 1];
    char nonce[WX_NONCE_MAX + 1];
};

/*
 * Parses xml[0..len) into m (which the caller releases with wx_msg_free,
 * whatever the result). A body with Encrypt is an envelope; any other must
 * have ToUserName, FromUserName, CreateTime and MsgType (and Content for
 * text, Event for event). On failure *why (if not NULL) names the reason
 * (static string, for logs). Returns 0, KIOSKD_EMALFORMED (not XML, not
 * UTF-8, a DOCTYPE, a control character, a missing, repeated or misplaced
 * field), KIOSKD_ETOOBIG (size, depth, element count or a field's length)
 * or KIOSKD_ENOMEM.
 */
int wx_msg_parse(const char *xml, size_t len, struct wx_msg *m, const char **why);
/* The same with expat's hash salt given (a secret drawn once by the caller):
 * expat then asks the kernel for no random bytes of its own. 0: expat's own. */
int wx_msg_parse_salted(const char *xml, size_t len, unsigned long salt, struct wx_msg *m,
                        const char **why);
/* Releases what m owns; m may be parsed into again. Accepts NULL. */
void wx_msg_free(struct wx_msg *m);

/*
 * Appends a passive text reply to out: ToUserName = to (the sender of the
 * message answered), FromUserName = from (our account), CreateTime in
 * seconds, MsgType text, Content in CDATA (split around "]]>").
 * 0, KIOSKD_EINVAL (text that XML cannot carry: invalid UTF-8 or a control
 * character other than tab, LF and CR) or KIOSKD_ETOOBIG/KIOSKD_ENOMEM from
 * out, which is left as it was on failure.
 */
int wx_reply_text(struct buf *out, const char *to, const char *from, int64_t create_time,
                  const char *content);

/* The values a safe-mode reply is sealed with. */
struct wx_seal {
    const struct wx_key *key;
    const char *appid;
    const char *token;
    const unsigned char *random; /* WX_RANDOM_BYTES from the caller's RNG */
    int64_t timestamp;           /* seconds */
    const char *nonce;           /* digits or letters, at most WX_NONCE_MAX */
};

/*
 * Encrypts the reply xml[0..len), signs it and appends the envelope
 * <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml> to out.
 * 0, KIOSKD_EINVAL, KIOSKD_ETOOBIG, KIOSKD_ENOMEM or KIOSKD_ECRYPTO; out is
 * left as it was on failure.
 */
int wx_reply_encrypted(struct buf *out, const struct wx_seal *s, const char *xml, size_t len);

#endif
