/*
 * Input checks for the sign-up API: mobile numbers, names, strict UTF-8.
 *
 * What is a letter comes from glibc's Unicode tables (the C.UTF-8 locale's
 * LC_CTYPE, loaded once with newlocale and used through the thread-safe *_l
 * calls; the process locale is never changed), not from tables of our own.
 * Loading them is the one thing here that reads a file, once, before the
 * first name is checked (validate_init).
 */
#include "core/validate.h"

#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#include "core/status.h"

bool validate_mobile(const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < 11; i++)
        if (s[i] < '0' || s[i] > '9')
            return false; /* also stops at the NUL of a short string */
    return s[11] == '\0' && s[0] == '1' && s[1] >= '3';
}

static bool utf8_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    /* The second byte's range rules out overlongs (E0, F0), surrogates (ED)
     * and code points above U+10FFFF (F4), per RFC 3629's table. */
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0Fu;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07u;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0; /* a continuation byte, C0/C1 (always overlong) or F5-FF */
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    v = (v << 6) | (p[1] & 0x3Fu);
    for (size_t i = 2; i < len; i++) {
        if (!utf8_cont(p[i]))
            return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    *cp = v;
    return len;
}

size_t utf8_count(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s), count = 0;
    for (size_t i = 0; i < n; count++) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l)
            return SIZE_MAX;
        i += l;
    }
    return count;
}

bool validate_cp_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x3000;
}

/* Line breaks would split a log line or a message; the invisible formatting
 * characters could reorder or hide text on a staff screen. */
bool validate_cp_forbidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

static pthread_once_t name_once = PTHREAD_ONCE_INIT;
static locale_t name_locale;
static wctype_t name_combining;

static void name_tables_load(void)
{
    name_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    /* "combining" is glibc's class of Unicode marks (Mn, Mc, Me) */
    if (name_locale)
        name_combining = wctype_l("combining", name_locale);
}

int validate_init(void)
{
    pthread_once(&name_once, name_tables_load);
    return name_locale && name_combining ? 0 : KIOSKD_ECONFIG;
}

bool validate_cp_name_punct(uint32_t cp)
{
    return cp == ' ' || cp == 0x3000 || cp == '-' || cp == '\'' || cp == 0x2019 || cp == 0xB7 ||
           cp == 0x30FB || cp == 0x2027;
}

/* What one code point inside a name is: a letter, a mark that goes on the
 * letter before it, allowed punctuation or space, or refused. */
enum name_cp { NAME_LETTER, NAME_MARK, NAME_PUNCT, NAME_REFUSED };

static enum name_cp name_cp_class(uint32_t cp)
{
    if (validate_cp_name_punct(cp))
        return NAME_PUNCT;
    if (!name_locale)
        return NAME_REFUSED;
    wint_t wc = (wint_t)cp;
    if (iswalpha_l(wc, name_locale))
        return NAME_LETTER;
    if (name_combining && iswctype_l(wc, name_combining, name_locale))
        return NAME_MARK;
    return NAME_REFUSED;
}

/* Checks that in is strictly valid UTF-8 and finds the span [*first, *end)
 * left once validate_cp_space is trimmed at both ends, and its number of code
 * points. Returns NULL, or the reason in is refused. */
static const char *trimmed_span(const char *in, size_t *first, size_t *end, size_t *count)
{
    size_t len = in ? strlen(in) : 0, idx = 0, first_idx = 0, end_idx = 0;
    *first = len;
    *end = 0;
    for (size_t i = 0; i < len; idx++) {
        uint32_t cp;
        size_t l = utf8_decode(in + i, len - i, &cp);
        if (!l)
            return "is not valid UTF-8";
        if (!validate_cp_space(cp)) {
            if (*first == len) {
                *first = i;
                first_idx = idx;
            }
            *end = i + l;
            end_idx = idx + 1;
        }
        i += l;
    }
    *count = end_idx - first_idx;
    return *first == len ? "must not be empty" : NULL;
}

/* Copies the span [first, end) of in to out (n bytes) as a string: 0, or
 * KIOSKD_ETOOBIG when it does not fit (out stays ""). */
static int copy_span(const char *in, size_t first, size_t end, char *out, size_t n)
{
    if (!out || end - first >= n)
        return KIOSKD_ETOOBIG;
    memcpy(out, in + first, end - first);
    out[end - first] = '\0';
    return 0;
}

int validate_name(const char *in, char *out, size_t n, const char **why)
{
    const char *reason = NULL;
    int rc = KIOSKD_EINVAL;
    if (out && n)
        out[0] = '\0';
    size_t first, end, count;
    if ((reason = trimmed_span(in, &first, &end, &count)) != NULL)
        goto out;
    validate_init();
    bool letters = false;
    enum name_cp prev = NAME_PUNCT;
    for (size_t i = first; i < end;) {
        uint32_t cp = 0;
        i += utf8_decode(in + i, end - i, &cp); /* valid: checked above */
        if (validate_cp_forbidden(cp)) {
            reason = "contains control characters";
            goto out;
        }
        enum name_cp k = name_cp_class(cp);
        if (k == NAME_REFUSED || (k == NAME_MARK && prev == NAME_PUNCT)) {
            reason = VALIDATE_NAME_RULE;
            goto out;
        }
        letters = letters || k == NAME_LETTER;
        prev = k;
    }
    if (!letters) {
        reason = VALIDATE_NAME_RULE;
        goto out;
    }
    if (count > VALIDATE_NAME_MAX) {
        reason = "is longer than 32 characters";
        goto out;
    }
    if ((rc = copy_span(in, first, end, out, n)) != 0)
        reason = "does not fit";
out:
    if (why)
        *why = reason;
    return rc;
}

int validate_name_key(const char *name, char *out, size_t n)
{
    if (!name || !out || n == 0)
        return KIOSKD_EINVAL;
    size_t len = strlen(name), o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = utf8_decode(name + i, len - i, &cp);
        if (!l) {
            out[0] = '\0';
            return KIOSKD_EINVAL;
        }
        i += l;
        char enc[4];
        size_t el = 0;
        if (cp == ' ' || cp == 0x3000)
            continue;
        if (cp >= 'A' && cp <= 'Z')
            enc[el++] = (char)(cp - 'A' + 'a');
        else if (cp >= 0xFF21 && cp <= 0xFF3A)
            enc[el++] = (char)(cp - 0xFF21 + 'a');
        else if (cp >= 0xFF41 && cp <= 0xFF5A)
            enc[el++] = (char)(cp - 0xFF41 + 'a');
        else if (cp == 0x2019)
            enc[el++] = '\'';
        else if (cp == 0x30FB || cp == 0x2027 || cp == 0xB7) {
            enc[el++] = (char)0xC2;
            enc[el++] = (char)0xB7;
        } else {
            memcpy(enc, name + i - l, l);
            el = l;
        }
        if (o + el >= n) {
            out[0] = '\0';
            return KIOSKD_ETOOBIG;
        }
        memcpy(out + o, enc, el);
        o += el;
    }
    out[o] = '\0';
    return 0;
}

static bool device_id_char(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') ||
           cp == '-' || cp == '_' || cp == '.';
}

int validate_device(const char *in, char *out, size_t n, const char **why)
{
    const char *reason = NULL;
    int rc = KIOSKD_EINVAL;
    if (out && n)
        out[0] = '\0';
    size_t first, end, count;
    if ((reason = trimmed_span(in, &first, &end, &count)) != NULL)
        goto out;
    validate_init();
    bool id = end - first <= 64, display = true;
    enum name_cp prev = NAME_PUNCT;
    for (size_t i = first; i < end;) {
        uint32_t cp = 0;
        i += utf8_decode(in + i, end - i, &cp); /* valid: checked above */
        if (validate_cp_forbidden(cp)) {
            reason = "contains control characters";
            goto out;
        }
        id = id && device_id_char(cp);
        enum name_cp k = cp == ' ' || cp == 0x3000 || cp == '-' || (cp >= '0' && cp <= '9')
                             ? NAME_PUNCT
                             : name_cp_class(cp);
        if (k != NAME_LETTER && k != NAME_PUNCT && !(k == NAME_MARK && prev != NAME_PUNCT))
            display = false;
        if (k == NAME_PUNCT && validate_cp_name_punct(cp) && cp != ' ' && cp != 0x3000 && cp != '-')
            display = false; /* the apostrophes and middle dots of names */
        prev = k;
    }
    if (!id && !display) {
        reason = VALIDATE_DEVICE_RULE;
        goto out;
    }
    if (!id && count > VALIDATE_DEVICE_MAX) {
        reason = "is longer than 16 characters";
        goto out;
    }
    if ((rc = copy_span(in, first, end, out, n)) != 0)
        reason = "does not fit";
out:
    if (why)
        *why = reason;
    return rc;
}

bool validate_date(const char *s)
{
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

const char *validate_text(const char *s, size_t len, size_t min, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < len; count++) {
        uint32_t cp;
        size_t step = utf8_decode(s + i, len - i, &cp);
        if (!step)
            return "is not valid UTF-8";
        if (cp == 0 || validate_cp_forbidden(cp))
            return "contains control characters";
        i += step;
    }
    if (count < min)
        return min == 1 ? "must not be empty" : "is too short";
    return count > max ? "is too long" : NULL;
}
