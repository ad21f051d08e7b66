/* The branch's side of the HQ sync protocol, without the transport (daemon/sync.h). */
#include "daemon/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <zlib.h>

#include "core/points.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/validate.h"
#include "daemon/cli.h"

#define SYNC_BODY_MAX (64 * 1024 * 1024)

void sync_request_free(struct sync_request *q)
{
    if (q->body.data)
        mbedtls_platform_zeroize(q->body.data, q->body.len);
    buf_free(&q->body);
}

static int gzip_into(const char *in, size_t len, struct buf *out)
{
    z_stream zs;
    unsigned char chunk[65536];
    int zrc, rc = 0;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return KIOSKD_ENOMEM;
    zs.next_in = (unsigned char *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zrc = deflate(&zs, Z_FINISH);
        if (zrc == Z_STREAM_ERROR ||
            (rc = buf_append(out, chunk, sizeof chunk - zs.avail_out)) != 0)
            break;
    } while (zrc != Z_STREAM_END);
    deflateEnd(&zs);
    return rc ? rc : zrc == Z_STREAM_END ? 0 : KIOSKD_ENOMEM;
}

/* Signs q (method, path, body as sent) for this device at time now. */
static int sync_sign(const struct kioskd *k, struct sync_request *q, int64_t now)
{
    char sig[HQSIG_HEX + 1];
    const char *secret = k->cfg.hq_secret;
    int rc = hqsig_sign(secret, strlen(secret), q->method, q->path, now,
                        q->body.data ? q->body.data : "", q->body.len, sig);
    if (rc == 0)
        rc = hqsig_header(k->cfg.hq_device, now, sig, q->authorization, sizeof q->authorization);
    return rc;
}

/* 32 random hex digits: two requests alike in the same second (a pull with
 * nothing new, a batch sent again) still differ, so HQ's replay check does
 * not take the second for a replay. */
static int sync_nonce(struct kioskd *k, char out[33])
{
    unsigned char r[16];
    if (rng_bytes(&k->rng, r, sizeof r) != 0)
        return KIOSKD_ECRYPTO;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

int sync_push_build(struct kioskd *k, int64_t after, int64_t now, struct sync_request *q,
                    int64_t *last, int *count)
{
    char nonce[33];
    int rc = sync_nonce(k, nonce);
    if (rc) {
        memset(q, 0, sizeof *q);
        *count = 0;
        return rc;
    }
    return sync_push_build_from(k, k->store, nonce, after, now, q, last, count);
}

int sync_push_build_from(const struct kioskd *k, struct store *from, const char *nonce,
                         int64_t after, int64_t now, struct sync_request *q, int64_t *last,
                         int *count)
{
    json_t *entries = json_array();
    char *text = NULL;
    int rc;
    memset(q, 0, sizeof *q);
    buf_init(&q->body, SYNC_BODY_MAX);
    q->method = "POST";
    snprintf(q->path, sizeof q->path, "/sync/v1/push");
    *count = 0;
    if (!entries)
        return KIOSKD_ENOMEM;
    rc = store_sync_outbox_read(from, after, (int)k->cfg.hq_batch, entries, last);
    if (rc)
        goto out;
    *count = (int)json_array_size(entries);
    if (*count == 0)
        goto out;
    json_t *doc = json_pack("{s:s, s:s, s:O}", "device", k->cfg.hq_device, "nonce", nonce,
                            "entries", entries);
    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    q->gzip = strcmp(k->cfg.hq_gzip, "on") == 0;
    rc = q->gzip ? gzip_into(text, strlen(text), &q->body)
                 : buf_append(&q->body, text, strlen(text));
    if (rc == 0)
        rc = sync_sign(k, q, now);
out:
    if (text) {
        mbedtls_platform_zeroize(text, strlen(text));
        free(text);
    }
    json_decref(entries);
    return rc;
}

int sync_push_answer(const char *body, size_t len, int64_t *acked)
{
    json_error_t err;
    json_t *doc = json_loadb(body, len, 0, &err);
    json_t *a = json_object_get(doc, "acked_through");
    int rc = json_is_integer(a) && json_integer_value(a) >= 0 ? 0 : KIOSKD_EMALFORMED;
    if (rc == 0)
        *acked = (int64_t)json_integer_value(a);
    json_decref(doc);
    return rc;
}

int sync_pull_build(struct kioskd *k, const char *cursor, int limit, int64_t now,
                    struct sync_request *q)
{
    memset(q, 0, sizeof *q);
    buf_init(&q->body, 0);
    q->method = "GET";
    if (strspn(cursor, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") !=
        strlen(cursor))
        return KIOSKD_EINVAL; /* sent as it is: it must need no escaping */
    char nonce[33];
    int rc = sync_nonce(k, nonce);
    if (rc)
        return rc;
    int n = snprintf(q->path, sizeof q->path, "/sync/v1/pull?since=%s&limit=%d&nonce=%s", cursor,
                     limit, nonce);
    if (n < 0 || (size_t)n >= sizeof q->path)
        return KIOSKD_ETOOBIG;
    return sync_sign(k, q, now);
}

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Checks and seals one member change into m; NULL or what is wrong. */
static const char *member_of(struct kioskd *k, const struct tier_lines *lines, json_t *d,
                             struct store_member *m)
{
    const char *no = str_of(d, "member_no"), *why = NULL;
    size_t nlen = strlen(no);
    char name[160];
    json_t *aum = json_object_get(d, "aum_fen");
    if (nlen == 0 || nlen > MEMBER_NO_MAX ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return "a member's member_no is not valid";
    if (validate_name(str_of(d, "name"), name, sizeof name, &why) != 0)
        return "a member's name is not valid";
    if (!validate_mobile(str_of(d, "phone")))
        return "a member's phone is not valid";
    if (!json_is_integer(aum) || json_integer_value(aum) < 0)
        return "a member's aum_fen is not valid";
    if (!validate_date(str_of(d, "birthday")))
        return "a member's birthday is not valid";
    const char *hh = str_of(d, "household"), *lt = str_of(d, "last_txn");
    if (strlen(hh) > 64 || strpbrk(hh, "\t\r\n") || (*lt && !validate_date(lt)))
        return "a member's household or last_txn is not valid";
    int rc = import_member_seal(k, lines,
                                &(struct member_fields){.member_no = no,
                                                        .name = name,
                                                        .phone = str_of(d, "phone"),
                                                        .aum_fen = json_integer_value(aum),
                                                        .birthday = str_of(d, "birthday"),
                                                        .household = hh,
                                                        .last_txn = lt},
                                m);
    mbedtls_platform_zeroize(name, sizeof name);
    return rc ? "a member could not be sealed" : NULL;
}

static const char *product_of(json_t *d, struct store_product *p)
{
    const char *code = str_of(d, "code"), *name = str_of(d, "name"), *why = NULL;
    memset(p, 0, sizeof *p);
    if (strlen(code) == 0 || strlen(code) > PRODUCT_CODE_MAX)
        return "a product's code is not valid";
    if (validate_text(name, strlen(name), 1, PRODUCT_NAME_MAX))
        return "a product's name is not valid";
    if (points_parse_coef(str_of(d, "coefficient"), &p->coef_milli, &why) != 0)
        return "a product's coefficient is not valid";
    snprintf(p->code, sizeof p->code, "%s", code);
    snprintf(p->name, sizeof p->name, "%s", name);
    return NULL;
}

int sync_pull_read(struct kioskd *k, const char *body, size_t len, struct sync_page *p, char *why,
                   size_t whylen)
{
    json_error_t err;
    json_t *doc = json_loadb(body, len, 0, &err);
    json_t *changes = json_object_get(doc, "changes"), *c;
    const char *cursor = json_string_value(json_object_get(doc, "cursor"));
    const char *problem = NULL;
    size_t i, n = json_array_size(changes);
    int rc = KIOSKD_EMALFORMED;
    struct tier_lines lines = {.potential = k->cfg.tiers_potential * 100,
                               .midhigh = k->cfg.tiers_midhigh * 100,
                               .private_line = k->cfg.tiers_private * 100};
    memset(p, 0, sizeof *p);
    store_sync_page_init(&p->job);
    if (!json_is_array(changes) || !cursor || strlen(cursor) > SYNC_CURSOR_MAX ||
        !json_is_boolean(json_object_get(doc, "more"))) {
        problem = "the answer is not {\"changes\",\"cursor\",\"more\"}";
        goto out;
    }
    p->more = json_is_true(json_object_get(doc, "more"));
    snprintf(p->job.cursor, sizeof p->job.cursor, "%s", cursor);
    p->members = calloc(n ? n : 1, sizeof *p->members);
    p->products = calloc(n ? n : 1, sizeof *p->products);
    if (!p->members || !p->products) {
        rc = KIOSKD_ENOMEM;
        goto out;
    }
    json_array_foreach(changes, i, c)
    {
        const char *kind = str_of(c, "kind");
        json_t *d = json_object_get(c, "data");
        if (!json_is_object(d)) {
            problem = "a change has no data object";
            goto out;
        }
        if (strcmp(kind, "member") == 0)
            problem = member_of(k, &lines, d, &p->members[p->job.nmembers++]);
        else if (strcmp(kind, "product") == 0)
            problem = product_of(d, &p->products[p->job.nproducts++]);
        else
            p->job.skipped++;
        if (problem)
            goto out;
    }
    p->job.members = p->members;
    p->job.products = p->products;
    rc = 0;
out:
    if (problem)
        snprintf(why, whylen, "%s", problem);
    json_decref(doc);
    if (rc)
        sync_page_free(p);
    return rc;
}

void sync_page_free(struct sync_page *p)
{
    if (p->members)
        mbedtls_platform_zeroize(p->members, p->job.nmembers * sizeof *p->members);
    free(p->members);
    free(p->products);
    p->members = NULL;
    p->products = NULL;
}
