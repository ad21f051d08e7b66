/* QR images of ticket codes: the SVG path and the PNG pixels match the modules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <png.h>

#include "core/buf.h"
#include "core/qr.h"
#include "core/status.h"

/* A ticket-like code: "K1.AbCdEfGh." and base64url characters, 130 in all. */
static void sample_code(char *out, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *head = "K1.AbCdEfGh.";
    size_t h = strlen(head);
    assert_true(len > h);
    memcpy(out, head, h);
    uint32_t x = 12345;
    for (size_t i = h; i < len; i++) {
        x = x * 1103515245u + 12345u;
        out[i] = b64[(x >> 16) & 63];
    }
    out[len] = '\0';
}

static void test_matrix(void **state)
{
    (void)state;
    char code[131];
    sample_code(code, 130);
    unsigned char *m = NULL;
    int w = 0;
    assert_int_equal(qr_matrix(code, &m, &w), 0);
    assert_non_null(m);
    assert_true(w >= 21 && (w - 17) % 4 == 0);
    /* 130 bytes at level M need version 8 (49 modules). */
    assert_int_equal((w - 17) / 4, 8);
    /* The finder pattern's corners are dark, the separator light. */
    assert_int_equal(m[0], 1);
    assert_int_equal(m[6], 1);
    assert_int_equal(m[7], 0);
    assert_int_equal(m[(size_t)(w - 1)], 1);
    for (int i = 0; i < w * w; i++)
        assert_true(m[i] == 0 || m[i] == 1);
    unsigned char *m2 = NULL;
    int w2 = 0;
    assert_int_equal(qr_matrix(code, &m2, &w2), 0);
    assert_int_equal(w2, w);
    assert_memory_equal(m, m2, (size_t)w * (size_t)w);
    free(m);
    free(m2);
}

static void test_bad_text(void **state)
{
    (void)state;
    unsigned char *m = (unsigned char *)"x";
    int w = 7;
    assert_int_equal(qr_matrix("", &m, &w), KIOSKD_EINVAL);
    assert_null(m);
    assert_int_equal(w, 0);
    assert_int_equal(qr_matrix(NULL, &m, &w), KIOSKD_EINVAL);

    char big[QR_TEXT_MAX + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(qr_svg(big, &b), KIOSKD_EINVAL);
    assert_int_equal(qr_png(big, 300, &b), KIOSKD_EINVAL);
    assert_int_equal(qr_svg("", &b), KIOSKD_EINVAL);
    assert_int_equal(qr_png("", 300, &b), KIOSKD_EINVAL);
    assert_int_equal(b.len, 0);
    big[QR_TEXT_MAX] = '\0'; /* exactly the limit is fine */
    assert_int_equal(qr_png(big, 300, &b), 0);
    assert_int_equal(qr_png("K1", 0, &b), KIOSKD_EINVAL);
    assert_int_equal(qr_png("K1", QR_PNG_MAX_PX + 1, &b), KIOSKD_EINVAL);
    buf_free(&b);
}

static void test_scale(void **state)
{
    (void)state;
    assert_int_equal(qr_png_scale(49, 300), 6); /* 57 modules: 342 px */
    assert_int_equal(qr_png_scale(53, 300), 5); /* 61 modules: 305 px */
    assert_int_equal(qr_png_scale(21, 29), 1);
    assert_int_equal(qr_png_scale(21, 30), 2);
    assert_int_equal(qr_png_scale(21, 1), 1);
}

/* Parses "M<x> <y>h<n>v1h-<n>z" runs back into a module grid (quiet zone included). */
static void svg_paint(const char *d, unsigned char *grid, int total)
{
    const char *p = d;
    while (*p != '"') {
        char *e;
        assert_int_equal(*p++, 'M');
        long x = strtol(p, &e, 10);
        assert_int_equal(*e, ' ');
        long y = strtol(e + 1, &e, 10);
        assert_int_equal(*e, 'h');
        long n = strtol(e + 1, &e, 10);
        assert_memory_equal(e, "v1h-", 4);
        long n2 = strtol(e + 4, &e, 10);
        assert_int_equal(*e, 'z');
        assert_int_equal(n, n2);
        assert_true(x >= 0 && y >= 0 && n >= 1 && x + n <= total && y < total);
        for (long i = 0; i < n; i++) {
            unsigned char *c = &grid[y * total + x + i];
            assert_int_equal(*c, 0); /* runs do not overlap */
            *c = 1;
        }
        p = e + 1;
    }
}

static void test_svg(void **state)
{
    (void)state;
    char code[131];
    sample_code(code, 130);
    unsigned char *m = NULL;
    int w = 0;
    assert_int_equal(qr_matrix(code, &m, &w), 0);
    int total = w + 2 * QR_QUIET;

    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_puts(&b, "prefix"), 0);
    assert_int_equal(qr_svg(code, &b), 0);
    const char *svg = b.data + 6;
    assert_memory_equal(b.data, "prefix", 6);
    assert_int_equal(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44), 0);
    size_t n = strlen(svg);
    assert_string_equal(svg + n - 7, "</svg>\n");
    char want[128];
    snprintf(want, sizeof want, "viewBox=\"0 0 %d %d\"", total, total);
    assert_non_null(strstr(svg, want));
    int px = total * qr_png_scale(w, QR_SVG_MIN_PX);
    assert_true(px >= 300);
    snprintf(want, sizeof want, "width=\"%d\" height=\"%d\"", px, px);
    assert_non_null(strstr(svg, want));
    assert_non_null(strstr(svg, "shape-rendering=\"crispEdges\""));
    assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
    assert_null(strstr(svg, "<script"));
    assert_null(strstr(svg, "href"));
    assert_null(strstr(svg, "url("));
    assert_null(strstr(svg, " on")); /* no event handler attributes */
    const char *path = strstr(svg, "<path ");
    assert_non_null(path);
    assert_null(strstr(path + 1, "<path")); /* one path */
    /* Balanced angle brackets and quotes, nothing but printable ASCII. */
    int depth = 0, quotes = 0;
    for (const char *p = svg; *p; p++) {
        assert_true((*p >= 0x20 && *p < 0x7F) || *p == '\n');
        if (*p == '"')
            quotes++;
        else if (*p == '<' && !(quotes & 1))
            depth++;
        else if (*p == '>' && !(quotes & 1))
            depth--;
        assert_true(depth == 0 || depth == 1);
    }
    assert_int_equal(depth, 0);
    assert_int_equal(quotes % 2, 0);

    const char *d = strstr(path, " d=\"");
    assert_non_null(d);
    unsigned char *grid = calloc((size_t)total * (size_t)total, 1);
    assert_non_null(grid);
    svg_paint(d + 4, grid, total);
    for (int y = 0; y < total; y++)
        for (int x = 0; x < total; x++) {
            int mx = x - QR_QUIET, my = y - QR_QUIET;
            int dark = mx >= 0 && my >= 0 && mx < w && my < w ? m[my * w + mx] : 0;
            assert_int_equal(grid[y * total + x], dark);
        }
    free(grid);
    free(m);
    buf_free(&b);
}

static void test_svg_ceiling(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 2000);
    assert_int_equal(buf_puts(&b, "keep"), 0);
    char code[131];
    sample_code(code, 130);
    assert_int_equal(qr_svg(code, &b), KIOSKD_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    buf_free(&b);
}

/* Decodes png (len bytes) to 8-bit gray; returns the pixels, caller frees. */
static unsigned char *png_decode(const char *png, size_t len, unsigned *wp, unsigned *hp)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_memory(&img, png, len));
    img.format = PNG_FORMAT_GRAY;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(img));
    assert_non_null(px);
    assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
    *wp = img.width;
    *hp = img.height;
    png_image_free(&img);
    return px;
}

static void check_png(const char *code, int min_px)
{
    unsigned char *m = NULL;
    int w = 0;
    assert_int_equal(qr_matrix(code, &m, &w), 0);
    int total = w + 2 * QR_QUIET;

    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_puts(&b, "x"), 0);
    assert_int_equal(qr_png(code, min_px, &b), 0);
    const char *png = b.data + 1;
    size_t len = b.len - 1;
    assert_true(len > 8);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);

    unsigned iw = 0, ih = 0;
    unsigned char *px = png_decode(png, len, &iw, &ih);
    assert_int_equal(iw, ih);
    assert_int_equal(iw % (unsigned)total, 0);
    assert_true(iw >= (unsigned)min_px);
    unsigned scale = iw / (unsigned)total;
    assert_int_equal(scale, (unsigned)qr_png_scale(w, min_px));
    /* The smallest such scale: one less would be too small. */
    assert_true(scale == 1 || (scale - 1) * (unsigned)total < (unsigned)min_px);
    for (unsigned y = 0; y < ih; y++)
        for (unsigned x = 0; x < iw; x++) {
            int mx = (int)(x / scale) - QR_QUIET, my = (int)(y / scale) - QR_QUIET;
            int dark = mx >= 0 && my >= 0 && mx < w && my < w ? m[my * w + mx] : 0;
            assert_int_equal(px[y * iw + x], dark ? 0 : 255);
        }
    free(px);
    free(m);
    buf_free(&b);
}

static void test_png(void **state)
{
    (void)state;
    char code[131];
    sample_code(code, 130);
    check_png(code, 300);
    check_png(code, 1);
    check_png(code, 343);
    check_png("K1.x", 300);
}

static void test_png_ceiling(void **state)
{
    (void)state;
    char code[131];
    sample_code(code, 130);
    struct buf b;
    buf_init(&b, 200);
    assert_int_equal(buf_puts(&b, "keep"), 0);
    assert_int_equal(qr_png(code, 300, &b), KIOSKD_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),      cmocka_unit_test(test_bad_text),
        cmocka_unit_test(test_scale),       cmocka_unit_test(test_svg),
        cmocka_unit_test(test_svg_ceiling), cmocka_unit_test(test_png),
        cmocka_unit_test(test_png_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
