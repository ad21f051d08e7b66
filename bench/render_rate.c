/*
 * render_rate: kioskd's Mustache renderer (core/mustache.c) on one template
 * and one data file, parsed once and rendered over and over.
 *
 *   render_rate TEMPLATE DATA_JSON [SECONDS]
 *
 * Renders for SECONDS (default 3) and prints
 *
 *   renders=N seconds=S rate=R bytes=B
 *
 * With SECONDS 0 it prints the rendered text once instead (bench/render.sh
 * compares it with mustache.js's).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/mustache.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: render_rate TEMPLATE DATA_JSON [SECONDS]\n");
        return 2;
    }
    double seconds = argc == 4 ? strtod(argv[3], NULL) : 3.0;
    if (seconds < 0 || seconds > 600) {
        fprintf(stderr, "render_rate: SECONDS must be in [0, 600]\n");
        return 2;
    }
    json_error_t jerr;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static char text[MUSTACHE_MAX_SOURCE];
    size_t len = fread(text, 1, sizeof text, f);
    fclose(f);
    json_t *data = json_load_file(argv[2], 0, &jerr);
    if (!data) {
        fprintf(stderr, "%s:%d:%d: %s\n", argv[2], jerr.line, jerr.column, jerr.text);
        return 1;
    }
    struct mustache *t;
    struct mustache_error err;
    if (mustache_parse(text, len, &t, &err) != 0) {
        fprintf(stderr, "%s:%u:%u: %s\n", argv[1], err.line, err.column, err.message);
        return 1;
    }
    struct buf out;
    buf_init(&out, 1 << 20);
    if (seconds == 0) {
        if (mustache_render(t, data, NULL, &out, &err) != 0) {
            fprintf(stderr, "render_rate: %s\n", err.message);
            return 1;
        }
        fwrite(out.data, 1, out.len, stdout);
        return 0;
    }
    long n = 0;
    double t0 = mono(), now;
    do {
        for (int i = 0; i < 1000; i++) {
            buf_reset(&out);
            if (mustache_render(t, data, NULL, &out, &err) != 0) {
                fprintf(stderr, "render_rate: %s\n", err.message);
                return 1;
            }
        }
        n += 1000;
        now = mono();
    } while (now - t0 < seconds);
    printf("renders=%ld seconds=%.2f rate=%.0f bytes=%zu\n", n, now - t0, (double)n / (now - t0),
           out.len);
    buf_free(&out);
    mustache_free(t);
    json_decref(data);
    return 0;
}
