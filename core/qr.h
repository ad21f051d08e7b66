/*
 * QR code images of ticket codes (CONTRACT.md: ticket.qr_svg, ticket.qr_png,
 * GET /api/v1/tickets/{code}.svg|.png), drawn with libqrencode at error
 * correction level M, 8-bit mode, case-sensitive, with a 4-module quiet
 * zone. Pure: images are built in memory, never written to a file. Not for
 * signing or parsing tickets (that is the ticket module).
 */
#ifndef KIOSKD_QR_H
#define KIOSKD_QR_H

#include <stddef.h>

#include "core/buf.h"

/* Longest text accepted, in bytes (a K1 ticket is about 150). */
#define QR_TEXT_MAX 256
/* Light modules around the symbol on every side. */
#define QR_QUIET 4
/* Largest min_px qr_png accepts. */
#define QR_PNG_MAX_PX 4096
/* Display size qr_svg asks for: at least this many px (see qr_svg). */
#define QR_SVG_MIN_PX 300

/* Encodes text (1 to QR_TEXT_MAX bytes) and sets *modules to a new array of
 * *width x *width bytes, row by row, 1 for dark and 0 for light, without the
 * quiet zone; the caller frees *modules. Returns 0, KIOSKD_EINVAL (text NULL,
 * empty or too long) or KIOSKD_ENOMEM; on failure *modules is NULL. */
int qr_matrix(const char *text, unsigned char **modules, int *width);

/* Returns the pixels per module of a qr_png image of a symbol width modules
 * wide: the smallest integer scale at which the image, quiet zone included,
 * is at least min_px wide (at least 1). */
int qr_png_scale(int width, int min_px);

/* Appends to out a standalone SVG document of text's QR code: viewBox in
 * modules (quiet zone included), width and height the smallest whole multiple
 * of the module count that is at least QR_SVG_MIN_PX px, crispEdges, a white
 * background and the dark modules as one path. No scripts, no external
 * references. Returns 0, KIOSKD_EINVAL, KIOSKD_ENOMEM or KIOSKD_ETOOBIG (out's
 * ceiling reached); on failure out is left as it was. */
int qr_svg(const char *text, struct buf *out);

/* Appends to out a 1-bit grayscale PNG of text's QR code with a whole number
 * of pixels per module (qr_png_scale), so that its width is at least min_px
 * (1 to QR_PNG_MAX_PX). Returns 0, KIOSKD_EINVAL (bad text or min_px),
 * KIOSKD_ENOMEM or KIOSKD_ETOOBIG; on failure out is left as it was. */
int qr_png(const char *text, int min_px, struct buf *out);

#endif
