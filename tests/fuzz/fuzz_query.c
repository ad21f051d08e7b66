/*
 * libFuzzer target: query strings as req_query_fit reads them. lws splits
 * the arguments at '&' and URL-decodes each; this target splits the input
 * the same way and runs query_arg (daemon/http.c) over the fragments as
 * req_query_fit does, with the fragment copied into the caller's buffer when
 * it fits (so the in-place move is exercised) and into its own allocation
 * when it does not. A value returned must fit, equal the fragment's value,
 * and too_long must be set exactly when it does not fit.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"since", "limit", "q", "status", "kind", "nonce"};
static const size_t sizes[] = {2, 8, 21, 64, 4096};

static void one(const char *in, size_t size, const char *name, size_t n)
{
    char *buf = malloc(n);
    CHECK(buf != NULL);
    size_t nlen = strlen(name), at = 0;
    for (int i = 0; i < 32 && at <= size; i++) {
        const char *amp = memchr(in + at, '&', size - at);
        size_t len = (amp ? (size_t)(amp - in) : size) - at;
        char *frag = len < n ? buf : malloc(len + 1);
        CHECK(frag != NULL);
        memcpy(frag, in + at, len);
        frag[len] = '\0';
        bool too_long = true;
        int hit = query_arg(frag, len, name, buf, n, &too_long);
        bool ours = len >= nlen && memcmp(in + at, name, nlen) == 0 &&
                    (len == nlen || in[at + nlen] == '=');
        CHECK(hit == (int)ours);
        if (hit) {
            size_t vlen = len > nlen ? len - nlen - 1 : 0;
            CHECK(too_long == (vlen >= n));
            if (!too_long)
                CHECK(memcmp(buf, in + at + len - vlen, vlen) == 0 && buf[vlen] == '\0');
        } else {
            CHECK(!too_long);
        }
        if (frag != buf)
            free(frag);
        if (hit || !amp)
            break;
        at += len + 1;
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++)
            one((const char *)data, size, names[i], sizes[j]);
    return 0;
}
