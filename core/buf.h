/*
 * A growable byte buffer with a ceiling fixed at creation (after curl's
 * dynbuf): appending past the ceiling fails with KIOSKD_ETOOBIG and leaves
 * the buffer as it was. The contents are always NUL terminated.
 */
#ifndef KIOSKD_BUF_H
#define KIOSKD_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* ceiling on len */
};

/* Sets up an empty buffer that may hold up to max bytes. */
void buf_init(struct buf *b, size_t max);
/* Appends n bytes; 0, KIOSKD_ETOOBIG or KIOSKD_ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n);
/* Makes room for extra more bytes (and a NUL) at once, so that appends up to
 * that size never move the data. 0, KIOSKD_ETOOBIG or KIOSKD_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Appends a NUL-terminated string. */
int buf_puts(struct buf *b, const char *s);
/* Appends printf-formatted text. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Forgets the contents, keeps the memory. */
void buf_reset(struct buf *b);
/* Frees the memory; the buffer may be used again after buf_init. */
void buf_free(struct buf *b);
/* Hands the contents to the caller (who frees them) and empties the buffer. */
char *buf_steal(struct buf *b, size_t *len);

#endif
