/* libFuzzer target: JSON request bodies as the handlers read them (core/jsonv). */
#include <stddef.h>
#include <stdint.h>

#include "core/jsonv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jv v;
    if (jv_parse(&v, (const char *)data, size) == 0) {
        int64_t n;
        bool b;
        jv_str(&v, "name", true, 1, 512);
        jv_str(&v, "phone", true, 0, 64);
        jv_str(&v, "ticket", false, 1, 1024);
        jv_int(&v, "event_id", false, 1, INT64_MAX / 2, &n);
        jv_int(&v, "capacity", false, 1, 1000, &n);
        jv_bool(&v, "consent", true, &b);
        jv_fail(&v, "extra", "is wrong");
        (void)jv_ok(&v);
    }
    jv_free(&v);
    return 0;
}
