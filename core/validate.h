/*
 * Checks on what people type at the kiosk or into the chat (mobile numbers,
 * names) and strict UTF-8 decoding. Pure but for one read of glibc's
 * Unicode tables (validate_init); no allocation of ours. Not for
 * masking (core/mask.h) or for JSON syntax (core/jsonv.h).
 */
#ifndef KIOSKD_VALIDATE_H
#define KIOSKD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest name accepted, in code points after trimming. */
#define VALIDATE_NAME_MAX 32
/* Room validate_name needs in out for any name it accepts (4 bytes per code point + NUL). */
#define VALIDATE_NAME_BUF (VALIDATE_NAME_MAX * 4 + 1)

/* Returns true when s is a mainland mobile number: exactly 11 ASCII digits,
 * the first 1 and the second 3-9. NULL gives false. */
bool validate_mobile(const char *s);
/* True when s is a calendar date YYYY-MM-DD (years 1900 to 2999). */
bool validate_date(const char *s);

/* The reason validate_name gives for a character a name may not contain
 * ("may contain only letters, spaces, '·', '-' and '''"). */
#define VALIDATE_NAME_RULE "may contain only letters, spaces, '\xc2\xb7', '-' and '''"

/* Loads the Unicode character classes validate_name uses: glibc's C.UTF-8
 * LC_CTYPE (always installed on Debian, package libc-bin), read once and
 * shared by all threads; the process locale is not touched. validate_name
 * calls it itself; call it at start-up to find a missing locale early.
 * Returns 0, or KIOSKD_ECONFIG when C.UTF-8 or its "combining" class is
 * missing (validate_name then refuses every name). */
int validate_init(void);

/* Checks a person's name. Trims ASCII whitespace and U+3000 at both ends, then
 * requires strictly valid UTF-8 and 1 to VALIDATE_NAME_MAX code points, each
 * of them:
 *   - a letter of any script (glibc's alpha class: Han including CJK
 *     Extension B and later, which are 4-byte UTF-8; Latin with diacritics,
 *     Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari, Hangul, kana ...);
 *   - a combining mark (Thai vowels and tones, Devanagari signs, Arabic
 *     harakat, decomposed accents), only right after a letter or a mark;
 *   - a space (U+0020, U+3000), hyphen '-', apostrophe (U+0027, U+2019) or a
 *     middle dot (U+00B7 as in 阿依古丽·买买提, U+30FB katakana middle dot,
 *     U+2027 hyphenation point);
 * with at least one letter. Everything else is refused: control, line and
 * paragraph separators and bidirectional formatting characters (C0, DEL, C1,
 * U+2028, U+2029, U+202A-U+202E, U+2066-U+2069, U+FEFF) with "contains
 * control characters"; ASCII digits, quotes, backslash, other punctuation,
 * symbols, emoji, zero-width joiners, unassigned and private-use code points
 * with VALIDATE_NAME_RULE. glibc counts letter-like numbers (Roman numerals,
 * digits of scripts other than ASCII) as alpha, so those pass.
 * Writes the trimmed name (NUL terminated) to out, which has n bytes
 * (VALIDATE_NAME_BUF is always enough). Returns 0; KIOSKD_EINVAL with *why
 * (if why is not NULL) set to a short English reason (static string) such as
 * "must not be empty"; or KIOSKD_ETOOBIG when a valid name does not fit in
 * out. On failure out is "" (when n > 0). Thread-safe. */
int validate_name(const char *in, char *out, size_t n, const char **why);

/* Writes the form of a name (as validate_name returned it) that two sign-ups
 * are compared by, so that what a resident types differently from one visit
 * to the next, without meaning another name, compares equal:
 *   - spaces (U+0020, U+3000) are dropped: 张三, 张 三 and " 张三 " are one
 *     name, and so are "Li Na" and "LiNa";
 *   - Latin letters are folded to lower case, ASCII and fullwidth alike
 *     (A-Z, U+FF21-U+FF3A, U+FF41-U+FF5A become a-z): a kiosk keyboard's
 *     shift state is not part of a name; other scripts are kept as typed;
 *   - U+2019 becomes ''' and U+30FB, U+2027 become U+00B7 (the IME's choice).
 * out has n bytes (VALIDATE_NAME_BUF is always enough: the key is never
 * longer than the name). Returns 0, or KIOSKD_ETOOBIG/KIOSKD_EINVAL. */
int validate_name_key(const char *name, char *out, size_t n);

/* Returns true for the spaces and punctuation validate_name takes inside a
 * name: U+0020, U+3000, '-', U+0027, U+2019, U+00B7, U+30FB, U+2027. */
bool validate_cp_name_punct(uint32_t cp);

/* Returns true for what validate_name trims at either end: ASCII whitespace
 * (space, \t \n \v \f \r) and U+3000 IDEOGRAPHIC SPACE. */
bool validate_cp_space(uint32_t cp);
/* Returns true for what validate_name refuses inside a name: C0, DEL, C1,
 * U+2028, U+2029, the bidirectional embeddings, overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069) and U+FEFF. */
bool validate_cp_forbidden(uint32_t cp);

/* Longest tablet name accepted, in code points after trimming, and the room
 * validate_device needs in out for any name it accepts. */
#define VALIDATE_DEVICE_MAX 16
#define VALIDATE_DEVICE_BUF 65
#define VALIDATE_DEVICE_RULE "may contain only letters, digits, spaces and '-'"

/* Checks a tablet's name as staff choose it at login ("东门1号"). Trims as
 * validate_name does, then accepts either
 *   - 1 to VALIDATE_DEVICE_MAX code points, each a letter of any script (as
 *     validate_name), a combining mark after a letter, an ASCII digit, a
 *     space (U+0020, U+3000) or '-'; or
 *   - the generated names of older tablets: 1 to 64 ASCII letters, digits,
 *     '-', '_' and '.' ("tablet-c12bd0").
 * Control and formatting characters (validate_cp_forbidden) are refused with
 * "contains control characters", others with VALIDATE_DEVICE_RULE. Writes the
 * trimmed name to out (n bytes; VALIDATE_DEVICE_BUF is always enough).
 * Returns 0, KIOSKD_EINVAL with *why set, or KIOSKD_ETOOBIG. Thread-safe. */
int validate_device(const char *in, char *out, size_t n, const char **why);

/* Decodes one code point from the n bytes at s (n > 0). Returns the length of
 * its encoding (1-4) and sets *cp, or 0 when the bytes are not strictly valid
 * UTF-8 (overlong, surrogate, above U+10FFFF, truncated or a stray byte). */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Returns the number of code points in the NUL-terminated string s, 0 for
 * NULL, or SIZE_MAX when s is not strictly valid UTF-8. */
size_t utf8_count(const char *s);

/* Checks a short text a person types that is shown as it is (a decision's
 * reason, a product's name): the len bytes at s are strictly valid UTF-8 of
 * min to max code points, none of them a control or formatting character
 * (validate_cp_forbidden; a NUL inside the len bytes counts as one). Returns
 * NULL when it is good, else a short English reason (a static string). */
const char *validate_text(const char *s, size_t len, size_t min, size_t max);

#endif
