/* Start-up and shut-down of the shared state of struct kioskd. */
#include "daemon/app.h"

#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/validate.h"
#include "daemon/keys.h"
#include "daemon/server.h"
#include "daemon/worker.h"

#define MAX_EXTRA_KEYS 15

int app_open(struct kioskd *k, bool daemon, char *err, size_t errlen)
{
    int rc;
    unsigned char master[32];
    struct ticket_key key;
    char pem[1024];
    char *extra[MAX_EXTRA_KEYS];
    int nextra = 0;

    memset(&key, 0, sizeof key);
    struct store_opts so = {
        .path = k->cfg.store_path,
        .busy_timeout_ms = (int)k->cfg.store_busy_timeout,
        .queue_max = (int)k->cfg.store_queue_max,
        .checkpoint_pages = (int)k->cfg.store_checkpoint_pages,
        .shared = !daemon,
        .notify = daemon ? server_wake : NULL,
        .notify_arg = k,
    };
    if (validate_init() != 0) {
        snprintf(err, errlen,
                 "cannot load the C.UTF-8 locale that names are checked with "
                 "(install libc-bin)");
        return KIOSKD_ECONFIG;
    }
    if ((rc = store_open(&k->store, &so, err, errlen)) != 0)
        return rc;
    if (rng_init(&k->rng) != 0) {
        snprintf(err, errlen, "cannot seed the random generator");
        return KIOSKD_ECRYPTO;
    }
    if ((rc = keyfile_pii_master(k->cfg.store_key_file, &k->rng, master, err, errlen)) != 0)
        return rc;
    rc = pii_init(&k->pii, master);
    mbedtls_platform_zeroize(master, sizeof master);
    if (rc) {
        snprintf(err, errlen, "cannot set up the personal-data key");
        return rc;
    }
    if ((rc = keyfile_ticket_key(k->cfg.tickets_key_file, &k->rng, 1, &key, err, errlen)) != 0)
        return rc;
    snprintf(k->kid, sizeof k->kid, "%s", key.kid);
    if ((rc = ticket_digest_key(&key, k->ticket_digest_key)) != 0) {
        ticket_key_free(&key);
        snprintf(err, errlen, "cannot derive the ticket digest key");
        return rc;
    }
    if ((rc = ticket_key_write_pem(&key, 0, k->public_pem, sizeof k->public_pem)) != 0) {
        ticket_key_free(&key);
        snprintf(err, errlen, "cannot encode the ticket key");
        return rc;
    }
    if ((rc = store_start(k->store)) != 0) {
        ticket_key_free(&key);
        snprintf(err, errlen, "cannot start the store writer");
        return rc;
    }
    if (!daemon) {
        ticket_key_free(&key);
        return 0;
    }
    rc = ticket_key_write_pem(&key, 1, pem, sizeof pem);
    ticket_key_free(&key);
    if (rc) {
        snprintf(err, errlen, "cannot encode the ticket key");
        return rc;
    }
    nextra = store_ticket_keys(k->store, extra, MAX_EXTRA_KEYS);
    if (nextra < 0)
        nextra = 0;
    k->workers = workers_start((int)k->cfg.http_workers, pem, (const char *const *)extra,
                               (size_t)nextra, (size_t)k->cfg.http_worker_queue,
                               (size_t)k->cfg.http_hash_queue, server_wake, k, err, errlen);
    mbedtls_platform_zeroize(pem, sizeof pem);
    for (int i = 0; i < nextra; i++)
        free(extra[i]);
    return k->workers ? 0 : KIOSKD_ECRYPTO;
}

void app_stop(struct kioskd *k)
{
    if (k->store)
        store_stop(k->store);
    workers_stop(k->workers);
    if (k->store)
        store_complete(k->store);
    worker_complete(k->workers);
}

void app_close(struct kioskd *k)
{
    app_stop(k);
    workers_free(k->workers);
    k->workers = NULL;
    store_close(k->store);
    k->store = NULL;
    pii_free(&k->pii);
    mbedtls_platform_zeroize(k->ticket_digest_key, sizeof k->ticket_digest_key);
    rng_free(&k->rng);
    free(k->events_cache.json);
    k->events_cache.json = NULL;
}
