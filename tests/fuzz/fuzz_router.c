/* libFuzzer target: matching request paths against the real route table,
 * and RFC 3339 times as the event API reads them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "daemon/router.h"
#include "handlers/handlers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct router rt;
    static int ready;
    if (!ready) {
        if (router_init(&rt, route_tables) != 0)
            abort();
        ready = 1;
    }
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    struct route_params p;
    int allowed;
    for (int m = HTTP_GET; m <= HTTP_OPTIONS; m <<= 1) {
        int i = router_match(&rt, m, path, &p, &allowed);
        if (i >= (int)rt.n || i < -2 || (i >= 0 && p.n > ROUTE_MAX_PARAMS))
            abort();
        for (int j = 0; i >= 0 && j < p.n; j++)
            if (strlen(p.value[j]) >= ROUTE_PARAM_MAX || !p.value[j][0])
                abort();
    }
    int64_t t;
    if (time_parse_rfc3339(path, &t) == 0) {
        char out[40];
        time_format_china(t, out, sizeof out);
    }
    free(path);
    return 0;
}
