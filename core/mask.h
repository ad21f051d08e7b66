/*
 * Masking personal data before it goes into a reply, a staff screen or a log
 * line (PRODUCT.md: 138****1234, 张*). Pure: no I/O, no allocation. The
 * output never holds control characters, so it is safe in a key=value log.
 */
#ifndef KIOSKD_MASK_H
#define KIOSKD_MASK_H

#include <stddef.h>

/* Room that is always enough for mask_name (one code point, '*', NUL). */
#define MASK_NAME_BUF 6

/* Writes a masked phone number to out (n bytes, always NUL terminated when
 * n > 0; a longer result is cut short, which only hides more). Eleven ASCII
 * digits become the first 3, "****" and the last 4 (138****1234). Anything
 * else becomes one '*' per character, except that the last 2 characters stay
 * when they are ASCII digits and the input has at least 5 characters (so a
 * short value is never shown whole). NULL or "" gives "". */
void mask_phone(const char *phone, char *out, size_t n);

/* Writes a masked name to out (n bytes, always NUL terminated when n > 0):
 * the first code point after leading whitespace and a single '*' (张三丰 ->
 * 张*, Li Lei -> L*). A one-character name, invalid UTF-8, a name that starts
 * with a control or formatting character, or an out too small for the result
 * gives "*"; NULL or "" (or only whitespace) gives "". */
void mask_name(const char *name, char *out, size_t n);

#endif
