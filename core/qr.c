/*
 * QR code images (SVG and PNG) of ticket codes, in memory. libqrencode makes
 * the module matrix; libpng writes the PNG through a callback into a struct
 * buf. Both images keep whole pixels per module so edges stay crisp.
 */
#include "core/qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

int qr_matrix(const char *text, unsigned char **modules, int *width)
{
    *modules = NULL;
    *width = 0;
    if (!text || !text[0] || strnlen(text, QR_TEXT_MAX + 1) > QR_TEXT_MAX)
        return KIOSKD_EINVAL;
    /* QR_MODE_8 as the hint keeps Kanji mode out; libqrencode still uses
     * numeric or alphanumeric segments where they are shorter. */
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return errno == ENOMEM ? KIOSKD_ENOMEM : KIOSKD_EINVAL;
    int rc = 0;
    size_t w = (size_t)qr->width;
    unsigned char *m = malloc(w * w);
    if (!m) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w * w; i++)
        m[i] = qr->data[i] & 1; /* the other bits describe the function patterns */
    *modules = m;
    *width = qr->width;
out:
    QRcode_free(qr);
    return rc;
}

int qr_png_scale(int width, int min_px)
{
    int total = width + 2 * QR_QUIET;
    if (total <= 0 || min_px <= total)
        return 1;
    return (min_px + total - 1) / total;
}

/* Drops whatever a failed call appended, so out is left as it was. */
static void qr_truncate(struct buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

int qr_svg(const char *text, struct buf *out)
{
    size_t start = out->len;
    unsigned char *m = NULL;
    int w = 0;
    int rc = qr_matrix(text, &m, &w);
    if (rc)
        goto out;
    int total = w + 2 * QR_QUIET;
    int px = total * qr_png_scale(w, QR_SVG_MIN_PX);
    rc = buf_printf(out,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                    "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                    "shape-rendering=\"crispEdges\">"
                    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
                    "<path fill=\"#000\" d=\"",
                    total, total, px, px, total, total);
    /* One rectangle per horizontal run of dark modules. */
    for (int y = 0; y < w && !rc; y++) {
        const unsigned char *row = m + (size_t)y * (size_t)w;
        for (int x = 0; x < w && !rc;) {
            if (!row[x]) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && row[x + run])
                run++;
            rc = buf_printf(out, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run, run);
            x += run;
        }
    }
    if (!rc)
        rc = buf_puts(out, "\"/></svg>\n");
out:
    free(m);
    if (rc)
        qr_truncate(out, start);
    return rc;
}

struct qr_png_sink {
    struct buf *out;
    int rc; /* why the write callback failed */
};

static void qr_png_write(png_structp png, png_bytep data, size_t len)
{
    struct qr_png_sink *sink = png_get_io_ptr(png);
    int rc = buf_append(sink->out, data, len);
    if (rc) {
        sink->rc = rc;
        png_error(png, "output buffer");
    }
}

static void qr_png_flush(png_structp png)
{
    (void)png;
}

/* libpng would print to stderr; core/ never does, the caller reports. */
static void qr_png_fail(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void qr_png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* The part of qr_png that libpng may longjmp out of; it changes no local
 * that is read after the jump. Returns 0 or a status. */
static int qr_png_encode(png_structp png, png_infop info, struct qr_png_sink *sink,
                         const unsigned char *m, int w, int scale, unsigned char *row)
{
    if (setjmp(png_jmpbuf(png)))
        return sink->rc ? sink->rc : KIOSKD_ENOMEM; /* libpng's own failures are allocations */
    int total = w + 2 * QR_QUIET;
    png_uint_32 size = (png_uint_32)(total * scale);
    size_t rowbytes = (size + 7) / 8;
    png_set_write_fn(png, sink, qr_png_write, qr_png_flush);
    png_set_IHDR(png, info, size, size, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE); /* best for 1-bit images */
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    for (int y = 0; y < total; y++) {
        /* In 1-bit grayscale 0 is black: start white, clear the dark pixels. */
        memset(row, 0xFF, rowbytes);
        int my = y - QR_QUIET;
        for (int x = 0; my >= 0 && my < w && x < w; x++) {
            if (!m[(size_t)my * (size_t)w + (size_t)x])
                continue;
            size_t p0 = (size_t)(x + QR_QUIET) * (size_t)scale;
            for (size_t p = p0; p < p0 + (size_t)scale; p++)
                row[p / 8] &= (unsigned char)~(0x80u >> (p % 8));
        }
        for (int i = 0; i < scale; i++)
            png_write_row(png, row);
    }
    png_write_end(png, NULL);
    return sink->rc;
}

int qr_png(const char *text, int min_px, struct buf *out)
{
    size_t start = out->len;
    unsigned char *m = NULL, *row = NULL;
    png_structp png = NULL;
    png_infop info = NULL;
    struct qr_png_sink sink = {out, 0};
    int w = 0, rc;
    if (min_px < 1 || min_px > QR_PNG_MAX_PX) {
        rc = KIOSKD_EINVAL;
        goto out;
    }
    rc = qr_matrix(text, &m, &w);
    if (rc)
        goto out;
    int scale = qr_png_scale(w, min_px);
    size_t size = (size_t)(w + 2 * QR_QUIET) * (size_t)scale;
    row = malloc((size + 7) / 8);
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, qr_png_fail, qr_png_warn);
    info = png ? png_create_info_struct(png) : NULL;
    if (!row || !info) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    rc = qr_png_encode(png, info, &sink, m, w, scale, row);
out:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    free(row);
    free(m);
    if (rc)
        qr_truncate(out, start);
    return rc;
}
