/*
 * libFuzzer target: arbitrary bytes as the push body HQ receives from a
 * branch (hqpush_parse, the part of store/hq.c's push job that reads the
 * body). A body it accepts must keep its promises: an object signed by the
 * signer, entries an array of well-formed entries, a key of the right shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hqpush.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    json_t *doc = hqpush_parse((const char *)data, size, "br-0001", &why);
    if (!doc) {
        CHECK(why != NULL && why[0] != '\0');
        return 0;
    }
    CHECK(why == NULL);
    CHECK(strcmp(json_string_value(json_object_get(doc, "device")), "br-0001") == 0);
    json_t *entries = json_object_get(doc, "entries"), *e;
    size_t i;
    CHECK(json_is_array(entries));
    json_array_foreach(entries, i, e)
    {
        CHECK(json_string_length(json_object_get(e, "id")) == 36);
        CHECK(json_integer_value(json_object_get(e, "seq")) >= 1);
        CHECK(json_is_object(json_object_get(e, "data")));
        CHECK(json_string_value(json_object_get(e, "kind")) != NULL);
        CHECK(json_string_value(json_object_get(e, "at")) != NULL);
    }
    json_t *key = json_object_get(doc, "key");
    if (key)
        CHECK(strlen(json_string_value(json_object_get(key, "kid"))) == 8);
    json_decref(doc);
    return 0;
}
