/* Masking phone numbers and names for replies, staff screens and logs. */
#include "core/mask.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/validate.h"

/* Length of the character at s (n > 0 bytes left): its UTF-8 encoding, or 1
 * for a byte that does not start a valid sequence. */
static size_t mask_char_len(const char *s, size_t n)
{
    uint32_t cp;
    size_t l = utf8_decode(s, n, &cp);
    return l ? l : 1;
}

static bool mask_digit(char c)
{
    return c >= '0' && c <= '9';
}

void mask_phone(const char *phone, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    out[0] = '\0';
    if (!phone || !phone[0])
        return;
    size_t len = strlen(phone), o = 0;

    bool mobile = len == 11;
    for (size_t i = 0; mobile && i < len; i++)
        mobile = mask_digit(phone[i]);
    if (mobile) {
        const char *m = "****";
        for (size_t i = 0; i < 11 && o + 1 < n; i++)
            out[o++] = i < 3 || i >= 7 ? phone[i] : m[i - 3];
        out[o] = '\0';
        return;
    }

    size_t chars = 0;
    for (size_t i = 0; i < len; chars++)
        i += mask_char_len(phone + i, len - i);
    /* The last two characters show only as plain digits (then each is one
     * byte), and only when at least three others stay hidden. */
    bool keep = chars >= 5 && mask_digit(phone[len - 1]) && mask_digit(phone[len - 2]);
    for (size_t i = 0, c = 0; i < len && o + 1 < n; c++) {
        out[o++] = keep && c >= chars - 2 ? phone[i] : '*';
        i += mask_char_len(phone + i, len - i);
    }
    out[o] = '\0';
}

void mask_name(const char *name, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    out[0] = '\0';
    if (!name)
        return;
    size_t len = strlen(name);

    /* Find the first and the last code point that are not trimmed. */
    size_t first = len, first_len = 0, last = len;
    uint32_t first_cp = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = utf8_decode(name + i, len - i, &cp);
        if (!l)
            goto star; /* invalid UTF-8 */
        if (!validate_cp_space(cp)) {
            if (first == len) {
                first = i;
                first_len = l;
                first_cp = cp;
            }
            last = i;
        }
        i += l;
    }
    if (first == len)
        return; /* empty or only whitespace */
    if (last == first || validate_cp_forbidden(first_cp) || first_len + 2 > n)
        goto star;
    memcpy(out, name + first, first_len);
    out[first_len] = '*';
    out[first_len + 1] = '\0';
    return;
star:
    if (n >= 2) {
        out[0] = '*';
        out[1] = '\0';
    }
}
