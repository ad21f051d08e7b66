/*
 * libFuzzer target: arbitrary bytes as the answers a branch reads from HQ:
 * a pull page (sync_pull_read: members and sign-ups checked and sealed,
 * products, keys and revocations checked) and a push answer
 * (sync_push_answer). A page read must account for every change it holds,
 * and a page refused must say why. The daemon is a minimal one: fixed
 * personal-data keys, its own kid, default tier lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "daemon/kioskd.h"
#include "daemon/sync.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kioskd k;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        static const unsigned char master[32] = "fuzz-master-key-0123456789abcde";
        CHECK(pii_init(&k.pii, master) == 0 && rng_init(&k.rng) == 0);
        memcpy(k.kid, "Ownkid00", 9);
        k.cfg.tiers_potential = 50000;
        k.cfg.tiers_midhigh = 500000;
        k.cfg.tiers_private = 6000000;
        ready = 1;
    }
    struct sync_page p;
    char why[160] = "";
    int rc = sync_pull_read(&k, (const char *)data, size, &p, why, sizeof why);
    CHECK(rc == 0 || rc == KIOSKD_EMALFORMED || rc == KIOSKD_ENOMEM);
    if (rc == 0) {
        json_t *doc = json_loadb((const char *)data, size, 0, NULL);
        CHECK(store_sync_page_changes(&p.job) == (int64_t)json_array_size(json_object_get(doc, "changes")));
        json_decref(doc);
        sync_page_free(&p);
    } else if (rc == KIOSKD_EMALFORMED) {
        CHECK(why[0] != '\0');
    }
    int64_t acked = -1;
    rc = sync_push_answer((const char *)data, size, &acked);
    CHECK((rc == 0 && acked >= 0) || (rc == KIOSKD_EMALFORMED && acked == -1));
    return 0;
}
