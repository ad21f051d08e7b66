/*
 * `kioskd hq`: HQ's keys and the storage callbacks (run on the storage
 * thread), `hq device add` and `hq import`. Serving is in daemon/main.c
 * (the same loop as `serve`) with the routes of handlers/hq.c.
 *
 * Personal data at HQ: an entry's or a change's personal fields (name,
 * phone, aum_fen) are kept in one AES-GCM sealed member "sealed" (base64),
 * under HQ's own key and the label "hq.<kind>"; they are unsealed only to be
 * sent to a branch in a pull. Device secrets are sealed likewise
 * ("hq.device_secret").
 */
#include "daemon/hq.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>

#include "core/csv.h"
#include "core/embedded.h"
#include "core/mask.h"
#include "core/points.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "daemon/keys.h"
#include "daemon/kioskd.h"
#include "daemon/server.h"
#include "handlers/bot.h"
#include "handlers/common.h"
#include "store/hqbot.h"

#define SECRET_AAD "hq.device_secret"
#define SEALED_MAX 2048

static const char *const personal_fields[] = {"name", "phone", "aum_fen"};

static int hq_verify(void *arg, const struct store_hq_auth *auth, const unsigned char *enc,
                     size_t len)
{
    struct hq *h = arg;
    const struct hq_signed *req = auth->request;
    char secret[128];
    size_t slen = 0;
    struct hqsig_auth a;
    if (pii_open(&h->pii, SECRET_AAD, enc, len, secret, sizeof secret, &slen) != 0)
        return KIOSKD_ECRYPTO;
    memset(&a, 0, sizeof a);
    snprintf(a.device, sizeof a.device, "%s", auth->device);
    a.ts = auth->ts;
    snprintf(a.sig, sizeof a.sig, "%s", auth->sig);
    int rc = hqsig_verify_hash(secret, slen, req->method, req->path, req->body_hex, &a);
    mbedtls_platform_zeroize(secret, sizeof secret);
    return rc == KIOSKD_EINVAL ? KIOSKD_EBADSIG : rc;
}

static void aad_of(const char *kind, char out[80])
{
    snprintf(out, 80, "hq.%s", kind);
}

static int hq_seal(void *arg, const char *kind, json_t *data)
{
    struct hq *h = arg;
    json_t *p = json_object();
    unsigned char sealed[SEALED_MAX];
    unsigned char b64[SEALED_MAX * 4 / 3 + 8];
    size_t slen = 0, blen = 0;
    char aad[80];
    char *text = NULL;
    int rc = KIOSKD_ENOMEM;
    if (!p)
        return KIOSKD_ENOMEM;
    for (size_t i = 0; i < sizeof personal_fields / sizeof personal_fields[0]; i++) {
        json_t *v = json_object_get(data, personal_fields[i]);
        if (v && json_object_set(p, personal_fields[i], v) == 0)
            json_object_del(data, personal_fields[i]);
    }
    if (json_object_size(p) == 0) {
        rc = 0;
        goto out;
    }
    text = json_dumps(p, JSON_COMPACT);
    if (!text)
        goto out;
    aad_of(kind, aad);
    rc = pii_seal(&h->pii, &h->rng, aad, text, strlen(text), sealed, sizeof sealed, &slen);
    if (rc)
        goto out;
    if (mbedtls_base64_encode(b64, sizeof b64, &blen, sealed, slen) != 0) {
        rc = KIOSKD_ETOOBIG;
        goto out;
    }
    rc = json_object_set_new(data, "sealed", json_stringn((const char *)b64, blen)) == 0
             ? 0
             : KIOSKD_ENOMEM;
out:
    if (text) {
        mbedtls_platform_zeroize(text, strlen(text));
        free(text);
    }
    json_decref(p);
    return rc;
}

static int hq_unseal(void *arg, const char *kind, json_t *data)
{
    struct hq *h = arg;
    json_t *s = json_object_get(data, "sealed");
    unsigned char sealed[SEALED_MAX];
    char plain[SEALED_MAX];
    size_t slen = 0, plen = 0;
    char aad[80];
    json_error_t err;
    if (!s)
        return 0;
    if (!json_is_string(s) || mbedtls_base64_decode(sealed, sizeof sealed, &slen,
                                                    (const unsigned char *)json_string_value(s),
                                                    json_string_length(s)) != 0)
        return KIOSKD_EMALFORMED;
    aad_of(kind, aad);
    int rc = pii_open(&h->pii, aad, sealed, slen, plain, sizeof plain, &plen);
    if (rc)
        return rc;
    json_t *p = json_loadb(plain, plen, 0, &err);
    mbedtls_platform_zeroize(plain, sizeof plain);
    if (!json_is_object(p)) {
        json_decref(p);
        return KIOSKD_EMALFORMED;
    }
    json_object_del(data, "sealed");
    rc = json_object_update(data, p) == 0 ? 0 : KIOSKD_ENOMEM;
    json_decref(p);
    return rc;
}

static int hq_hash(void *arg, const char *s, size_t len, char out[65])
{
    struct hq *h = arg;
    unsigned char mac[PII_HASH_LEN];
    int rc = pii_hash(&h->pii, s, len, mac);
    for (size_t i = 0; rc == 0 && i < sizeof mac; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return rc;
}

int hq_init(struct hq *h, const char *key_file, char *err, size_t errlen)
{
    unsigned char master[32];
    memset(h, 0, sizeof *h);
    if (rng_init(&h->rng) != 0) {
        snprintf(err, errlen, "cannot seed the random generator");
        return KIOSKD_ECRYPTO;
    }
    int rc = keyfile_pii_master(key_file, &h->rng, master, err, errlen);
    if (rc)
        return rc;
    rc = pii_init(&h->pii, master);
    mbedtls_platform_zeroize(master, sizeof master);
    if (rc) {
        snprintf(err, errlen, "cannot set up HQ's key");
        return rc;
    }
    h->crypto = (struct store_hq_crypto){
        .verify = hq_verify, .seal = hq_seal, .unseal = hq_unseal, .hash = hq_hash, .arg = h};
    return 0;
}

void hq_free(struct hq *h)
{
    ticket_key_free(&h->ticket);
    pii_free(&h->pii);
    rng_free(&h->rng);
}

/* Opens HQ's database; 0 or a KIOSKD_E* code with err. */
static int hq_store_open(struct kioskd *k, bool daemon, char *err, size_t errlen)
{
    struct store_opts so = {
        .path = k->cfg.hqserver_database,
        .pg_url = k->cfg.hqserver_database_url,
        .busy_timeout_ms = (int)k->cfg.store_busy_timeout,
        .queue_max = (int)k->cfg.store_queue_max,
        .checkpoint_pages = (int)k->cfg.store_checkpoint_pages,
        .shared = !daemon,
        .notify = daemon ? server_wake : NULL,
        .notify_arg = k,
        .migrations = embedded_hq_migrations,
    };
    int rc = store_open(&k->store, &so, err, errlen);
    if (rc == 0 && (rc = store_start(k->store)) != 0)
        snprintf(err, errlen, "cannot start the store writer");
    return rc;
}

int hq_open(struct kioskd *k, bool daemon, char *err, size_t errlen)
{
    k->hq = calloc(1, sizeof *k->hq);
    if (!k->hq) {
        snprintf(err, errlen, "out of memory");
        return KIOSKD_ENOMEM;
    }
    int rc = hq_init(k->hq, k->cfg.hqserver_key_file, err, errlen);
    if (rc == 0 && daemon &&
        (rc = keyfile_ticket_key(k->cfg.hqserver_ticket_key_file, &k->hq->rng, 1, &k->hq->ticket,
                                 err, errlen)) == 0 &&
        (rc = ticket_key_write_pem(&k->hq->ticket, 0, k->hq->public_pem,
                                   sizeof k->hq->public_pem)) != 0)
        snprintf(err, errlen, "cannot write HQ's public ticket key");
    if (rc == 0)
        rc = hq_store_open(k, daemon, err, errlen);
    return rc;
}

void hq_close(struct kioskd *k)
{
    store_close(k->store);
    k->store = NULL;
    if (k->hq) {
        hq_free(k->hq);
        free(k->hq);
        k->hq = NULL;
    }
}

/* --- kioskd hq device add ID --- */

static int device_add(struct kioskd *k, const char *id, const char *area)
{
    char err[512], secret[65];
    unsigned char raw[32];
    struct store_hq_device_add j;
    if (!hqsig_device_ok(id)) {
        fprintf(stderr, "kioskd hq device add: the id must be 1 to 64 of A-Z a-z 0-9 . _ -\n");
        return 2;
    }
    if (validate_text(area, strlen(area), 0, HQ_AREA_MAX) || strlen(area) > HQ_AREA_MAX) {
        fprintf(stderr, "kioskd hq device add: the area must be at most %d bytes on one line\n",
                HQ_AREA_MAX);
        return 2;
    }
    if (hq_open(k, false, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd hq: %s\n", err);
        hq_close(k);
        return 1;
    }
    store_hq_device_add_init(&j);
    snprintf(j.device, sizeof j.device, "%s", id);
    snprintf(j.area, sizeof j.area, "%s", area);
    int rc = rng_bytes(&k->hq->rng, raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(secret + 2 * i, 3, "%02x", raw[i]);
    mbedtls_platform_zeroize(raw, sizeof raw);
    if (rc == 0)
        rc = pii_seal(&k->hq->pii, &k->hq->rng, SECRET_AAD, secret, 64, j.secret_enc,
                      sizeof j.secret_enc, &j.secret_enc_len);
    if (rc == 0)
        rc = store_run(k->store, &j.job);
    hq_close(k);
    if (rc == 0 && j.verdict == HQ_EXISTS) {
        fprintf(stderr, "kioskd hq device add: device %s exists already\n", id);
        rc = 1;
    } else if (rc) {
        fprintf(stderr, "kioskd hq device add: %s\n", kioskd_strerror(rc));
        rc = 1;
    } else {
        printf("%s\n", secret);
    }
    mbedtls_platform_zeroize(secret, sizeof secret);
    return rc;
}

/* --- kioskd hq import members|products|events|balances FILE.csv --- */

struct hq_importer {
    const char *path, *what;
    struct csv csv;
    int col[8];
    int ncols;
    char err[512];
};

static const char *const member_cols[] = {"member_no", "name",      "phone",    "aum",
                                          "birthday",  "household", "last_txn", NULL};
static const char *const product_cols[] = {"code", "name", "coefficient", NULL};
/* status (optional): open (the default) or cancelled, which the branch applies */
static const char *const event_cols[] = {"title",    "kind",   "starts_at", "ends_at", "venue",
                                         "capacity", "branch", "status",    NULL};
static const char *const balance_cols[] = {"member_no", "id", "points", "reason", "at", NULL};

static const char *const *cols_of(const char *what)
{
    return strcmp(what, "members") == 0    ? member_cols
           : strcmp(what, "products") == 0 ? product_cols
           : strcmp(what, "balances") == 0 ? balance_cols
                                           : event_cols;
}

static int import_fail(struct hq_importer *im, int line, const char *field, const char *why)
{
    snprintf(im->err, sizeof im->err, "%s:%d: %s: %s", im->path, line, field, why);
    return KIOSKD_EINVAL;
}

static int read_header(struct hq_importer *im)
{
    struct csv_row row;
    int rc = csvmem_next(&im->csv, &row);
    const char *const *cols = cols_of(im->what);
    if (rc != 1) {
        snprintf(im->err, sizeof im->err, "%s:1: %s", im->path,
                 rc == 0 ? "the file is empty; a header row is expected" : im->csv.error);
        return KIOSKD_EINVAL;
    }
    im->ncols = row.n;
    for (int i = 0; cols[i]; i++) {
        im->col[i] = -1;
        for (int f = 0; f < row.n; f++)
            if (strcmp(row.field[f], cols[i]) == 0)
                im->col[i] = f;
        bool optional =
            (cols == member_cols && (i == 5 || i == 6)) || (cols == event_cols && i == 7);
        if (im->col[i] < 0 && !optional) {
            snprintf(im->err, sizeof im->err, "%s:%d: the header has no column '%s'", im->path,
                     row.line, cols[i]);
            return KIOSKD_EINVAL;
        }
    }
    return 0;
}

static const char *field(const struct hq_importer *im, const struct csv_row *row, int c)
{
    return im->col[c] < 0 ? "" : row->field[im->col[c]];
}

static int next_member(struct hq_importer *im, const struct csv_row *row, char key[201],
                       json_t **data)
{
    const char *no = field(im, row, 0), *why = NULL;
    size_t nlen = strlen(no);
    char name[160];
    int64_t fen;
    if (nlen == 0 || nlen > 32 ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return import_fail(im, row->line, "member_no",
                           "must be 1 to 32 letters, digits, '-' or '_'");
    if (validate_name(field(im, row, 1), name, sizeof name, &why) != 0)
        return import_fail(im, row->line, "name", why ? why : "is not valid");
    if (!validate_mobile(field(im, row, 2)))
        return import_fail(im, row->line, "phone", "must be an 11-digit mainland mobile number");
    if (cny_to_fen(field(im, row, 3), &fen, &why) != 0)
        return import_fail(im, row->line, "aum", why);
    if (!validate_date(field(im, row, 4)))
        return import_fail(im, row->line, "birthday", "must be a date YYYY-MM-DD");
    const char *hh = field(im, row, 5), *lt = field(im, row, 6);
    if (strlen(hh) > 64 || strpbrk(hh, "\t\r\n"))
        return import_fail(im, row->line, "household", "must be at most 64 bytes on one line");
    if (*lt && !validate_date(lt))
        return import_fail(im, row->line, "last_txn", "must be a date YYYY-MM-DD");
    snprintf(key, 201, "%s", no);
    *data = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "member_no", no, "name", name, "phone",
                      field(im, row, 2), "aum_fen", (json_int_t)fen, "birthday", field(im, row, 4),
                      "household", hh, "last_txn", lt);
    mbedtls_platform_zeroize(name, sizeof name);
    return *data ? 1 : KIOSKD_ENOMEM;
}

static int next_product(struct hq_importer *im, const struct csv_row *row, char key[201],
                        json_t **data)
{
    const char *code = field(im, row, 0), *name = field(im, row, 1), *why = NULL;
    int64_t milli;
    size_t clen = strlen(code);
    if (clen == 0 || clen > 32 ||
        strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != clen)
        return import_fail(im, row->line, "code", "must be 1 to 32 letters, digits, '-', '_', '.'");
    if (validate_text(name, strlen(name), 1, 100))
        return import_fail(im, row->line, "name", "must be 1 to 100 characters on one line");
    if (points_parse_coef(field(im, row, 2), &milli, &why) != 0)
        return import_fail(im, row->line, "coefficient", why);
    snprintf(key, 201, "%s", code);
    *data =
        json_pack("{s:s, s:s, s:s}", "code", code, "name", name, "coefficient", field(im, row, 2));
    return *data ? 1 : KIOSKD_ENOMEM;
}

static int next_event(struct hq_importer *im, const struct csv_row *row, char key[201],
                      json_t **data)
{
    const char *title = field(im, row, 0), *kind = field(im, row, 1);
    const char *starts = field(im, row, 2), *ends = field(im, row, 3);
    const char *venue = field(im, row, 4), *cap = field(im, row, 5);
    const char *branch = field(im, row, 6), *status = field(im, row, 7);
    int64_t s, e;
    char *end;
    if (validate_text(title, strlen(title), 1, 100))
        return import_fail(im, row->line, "title", "must be 1 to 100 characters on one line");
    if (strcmp(kind, "upgrade") && strcmp(kind, "salon") && strcmp(kind, "community"))
        return import_fail(im, row->line, "kind", "must be upgrade, salon or community");
    if (time_parse_rfc3339(starts, &s) != 0)
        return import_fail(im, row->line, "starts_at", "must be an RFC 3339 time");
    if (time_parse_rfc3339(ends, &e) != 0 || e <= s)
        return import_fail(im, row->line, "ends_at", "must be an RFC 3339 time after starts_at");
    if (validate_text(venue, strlen(venue), 1, 100))
        return import_fail(im, row->line, "venue", "must be 1 to 100 characters on one line");
    errno = 0;
    long c = strtol(cap, &end, 10);
    if (errno || end == cap || *end || c < 1 || c > 100000)
        return import_fail(im, row->line, "capacity", "must be a whole number from 1 to 100000");
    if (!hqsig_device_ok(branch))
        return import_fail(im, row->line, "branch",
                           "must be the device id of the branch it takes place at");
    if (!*status)
        status = "open";
    if (strcmp(status, "open") && strcmp(status, "cancelled"))
        return import_fail(im, row->line, "status", "must be open or cancelled (or empty)");
    snprintf(key, 201, "%s %" PRId64 " %.100s", branch, s, title);
    *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "key", key, "title", title,
                      "kind", kind, "starts_at", starts, "ends_at", ends, "capacity", (int)c,
                      "venue", venue, "branch", branch, "status", status);
    return *data ? 1 : KIOSKD_ENOMEM;
}

/* A points line earned at HQ: the branches merge it into their ledgers by
 * its id (docs/sync.md). */
static int next_balance(struct hq_importer *im, const struct csv_row *row, char key[201],
                        json_t **data)
{
    const char *no = field(im, row, 0), *id = field(im, row, 1), *pts = field(im, row, 2);
    const char *reason = field(im, row, 3), *at = field(im, row, 4);
    size_t nlen = strlen(no), ilen = strlen(id);
    int64_t t;
    char *end;
    if (nlen == 0 || nlen > 32 ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return import_fail(im, row->line, "member_no",
                           "must be 1 to 32 letters, digits, '-' or '_'");
    if (ilen == 0 || ilen > 64 ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != ilen)
        return import_fail(im, row->line, "id", "must be 1 to 64 letters, digits, '-', '_', '.'");
    errno = 0;
    long long p = strtoll(pts, &end, 10);
    if (errno || end == pts || *end || p < 1 || p > 10000000)
        return import_fail(im, row->line, "points", "must be a whole number from 1 to 10000000");
    if (validate_text(reason, strlen(reason), 1, 100))
        return import_fail(im, row->line, "reason", "must be 1 to 100 characters on one line");
    if (time_parse_rfc3339(at, &t) != 0)
        return import_fail(im, row->line, "at", "must be an RFC 3339 time");
    snprintf(key, 201, "%s", id);
    *data = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "member_no", no, "points",
                      (json_int_t)p, "reason", reason, "at", at);
    return *data ? 1 : KIOSKD_ENOMEM;
}

static int import_next(void *arg, const char **kind, char key[201], json_t **data)
{
    struct hq_importer *im = arg;
    struct csv_row row;
    int rc = csvmem_next(&im->csv, &row);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        snprintf(im->err, sizeof im->err, "%s:%d: %s", im->path, row.line, im->csv.error);
        return KIOSKD_EINVAL;
    }
    if (row.n != im->ncols) {
        snprintf(im->err, sizeof im->err, "%s:%d: expected %d fields as in the header, found %d",
                 im->path, row.line, im->ncols, row.n);
        return KIOSKD_EINVAL;
    }
    if (strcmp(im->what, "members") == 0) {
        *kind = "member";
        return next_member(im, &row, key, data);
    }
    if (strcmp(im->what, "products") == 0) {
        *kind = "product";
        return next_product(im, &row, key, data);
    }
    if (strcmp(im->what, "balances") == 0) {
        *kind = "balance";
        return next_balance(im, &row, key, data);
    }
    *kind = "event";
    return next_event(im, &row, key, data);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t n;
    buf_init(&b, (size_t)1 << 30);
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n) != 0) {
            snprintf(err, errlen, "%s: too large", path);
            fclose(f);
            buf_free(&b);
            return NULL;
        }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: cannot be read", path);
        buf_free(&b);
        return NULL;
    }
    if (!b.data && buf_append(&b, "", 0) != 0)
        return NULL;
    return buf_steal(&b, len);
}

static int import_file(struct kioskd *k, const char *what, const char *path)
{
    struct hq_importer im;
    struct store_hq_import j;
    char err[512];
    size_t len = 0;
    memset(&im, 0, sizeof im);
    im.path = path;
    im.what = what;
    if (validate_init() != 0) {
        fprintf(stderr, "kioskd hq import: cannot load the C.UTF-8 locale (install libc-bin)\n");
        return 1;
    }
    char *data = read_file(path, &len, err, sizeof err);
    if (!data) {
        fprintf(stderr, "kioskd hq import: %s\n", err);
        return 1;
    }
    csvmem_init(&im.csv, data, len);
    int rc = read_header(&im);
    if (rc == 0 && (rc = hq_open(k, false, err, sizeof err)) != 0)
        snprintf(im.err, sizeof im.err, "%s", err);
    if (rc == 0) {
        store_hq_import_init(&j);
        j.crypto = &k->hq->crypto;
        j.next = import_next;
        j.arg = &im;
        rc = store_run(k->store, &j.job);
    }
    hq_close(k);
    csvmem_free(&im.csv);
    mbedtls_platform_zeroize(data, len);
    free(data);
    if (rc) {
        fprintf(stderr, "kioskd hq import: %s; nothing was imported\n",
                im.err[0] ? im.err : kioskd_strerror(rc));
        return 1;
    }
    printf("imported %lld %s for the branches to pull\n", (long long)j.rows, what);
    return 0;
}

/* --- kioskd hq export signups --- */

static const char *const export_cols[] = {"device",    "entry_id",  "at",     "event_id",
                                          "signup_id", "source",    "status", "name",
                                          "phone",     "event_key", NULL};

static int export_row(void *arg, const char *device, const char *id, const char *at,
                      const char *event_key, json_t *data)
{
    struct buf *b = arg;
    char event[24], signup[24];
    snprintf(event, sizeof event, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(data, "event_id")));
    snprintf(signup, sizeof signup, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(data, "signup_id")));
    const char *v[] = {device,
                       id,
                       at,
                       event,
                       signup,
                       json_string_value(json_object_get(data, "source")),
                       json_string_value(json_object_get(data, "status")),
                       json_string_value(json_object_get(data, "name")),
                       json_string_value(json_object_get(data, "phone")),
                       event_key};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof v / sizeof v[0]; i++) {
        if (i && (rc = buf_append(b, ",", 1)) != 0)
            break;
        rc = csv_put_field(b, v[i] ? v[i] : ""); /* "": pushed before names were sent */
    }
    return rc ? rc : buf_append(b, "\n", 1);
}

static int export_signups(struct kioskd *k)
{
    char err[512];
    struct buf b;
    struct store_hq_export j;
    int rc = 0;
    buf_init(&b, (size_t)1 << 30);
    for (int i = 0; export_cols[i] && rc == 0; i++)
        if ((i && (rc = buf_append(&b, ",", 1)) != 0) ||
            (rc = buf_append(&b, export_cols[i], strlen(export_cols[i]))) != 0)
            break;
    if (rc == 0)
        rc = buf_append(&b, "\n", 1);
    if (rc == 0 && (rc = hq_open(k, false, err, sizeof err)) != 0) {
        fprintf(stderr, "kioskd hq: %s\n", err);
        hq_close(k);
        buf_free(&b);
        return 1;
    }
    if (rc == 0) {
        store_hq_export_init(&j);
        j.crypto = &k->hq->crypto;
        j.kind = "signup";
        j.row = export_row;
        j.arg = &b;
        rc = store_run(k->store, &j.job);
    }
    hq_close(k);
    if (rc == 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
        rc = KIOSKD_EIO;
    if (b.data)
        mbedtls_platform_zeroize(b.data, b.len);
    buf_free(&b);
    if (rc) {
        fprintf(stderr, "kioskd hq export: %s\n", kioskd_strerror(rc));
        return 1;
    }
    return 0;
}

/* --- kioskd hq signup DEVICE/ID NAME PHONE --- */

/* Takes a sign-up at HQ as HQ's bot will (store_hq_signup_init) and prints
 * its ticket: for HQ IT to try the flow, and for the tests. */
static int hq_signup(struct kioskd *k, const char *event, const char *name_in, const char *phone)
{
    char err[512], code[TICKET_CODE_MAX + 1];
    const char *why = NULL;
    struct ticket_key key;
    struct store_hq_signup j;
    char *end;
    store_hq_signup_init(&j);
    if (validate_init() != 0) {
        fprintf(stderr, "kioskd hq signup: cannot load the C.UTF-8 locale (install libc-bin)\n");
        return 1;
    }
    const char *slash = strrchr(event, '/');
    size_t dlen = slash ? (size_t)(slash - event) : 0;
    if (dlen && dlen < sizeof j.event_device) {
        memcpy(j.event_device, event, dlen);
        j.event_device[dlen] = '\0';
    }
    errno = 0;
    long long ev = slash ? strtoll(slash + 1, &end, 10) : 0;
    bool by_id = j.event_device[0] && hqsig_device_ok(j.event_device) && !errno &&
                 end != slash + 1 && !*end && ev >= 1;
    /* else HQ's key of an event it imported ("BRANCH START TITLE", hq export signups) */
    if (!by_id && strchr(event, ' ') && strlen(event) < sizeof j.event_key &&
        !validate_text(event, strlen(event), 1, HQ_EVENT_KEY_MAX)) {
        snprintf(j.event_key, sizeof j.event_key, "%s", event);
        j.event_device[0] = '\0';
    }
    if ((!by_id && !j.event_key[0]) || validate_name(name_in, j.name, sizeof j.name, &why) != 0 ||
        !validate_mobile(phone)) {
        fprintf(stderr, "kioskd hq signup: EVENT must be DEVICE/ID (the branch that holds the "
                        "event and its id there) or the key HQ imported it under, NAME a name "
                        "and PHONE an 11-digit mainland mobile number\n");
        mbedtls_platform_zeroize(&j, sizeof j);
        return 2;
    }
    if (hq_open(k, false, err, sizeof err) != 0 ||
        keyfile_ticket_key(k->cfg.hqserver_ticket_key_file, &k->hq->rng, 1, &key, err,
                           sizeof err) != 0) {
        fprintf(stderr, "kioskd hq: %s\n", err);
        hq_close(k);
        mbedtls_platform_zeroize(&j, sizeof j);
        return 1;
    }
    j.crypto = &k->hq->crypto;
    snprintf(j.kid, sizeof j.kid, "%s", key.kid);
    j.event_id = ev;
    snprintf(j.phone, sizeof j.phone, "%s", phone);
    mask_name(j.name, j.name_masked, sizeof j.name_masked);
    snprintf(j.phone_last4, sizeof j.phone_last4, "%s", phone + 7);
    snprintf(j.consent_version, sizeof j.consent_version, "%s", CONSENT_VERSION);
    j.issued_at = (int64_t)time(NULL);
    int rc = ticket_key_write_pem(&key, 0, j.public_pem, sizeof j.public_pem);
    if (rc == 0)
        rc = store_run(k->store, &j.job);
    struct ticket_payload p = {
        .event_id = j.event_id, .signup_id = j.signup_id, .issued_at = j.issued_at};
    if (rc == 0 && !j.merged_into[0])
        rc = ticket_sign(&key, &k->hq->rng, &p, code, sizeof code);
    ticket_key_free(&key);
    hq_close(k);
    mbedtls_platform_zeroize(j.name, sizeof j.name);
    mbedtls_platform_zeroize(j.phone, sizeof j.phone);
    if (rc == KIOSKD_EGONE) {
        fprintf(stderr, "kioskd hq signup: HQ cancelled that event\n");
        return 1;
    }
    if (rc == KIOSKD_ENOTFOUND && j.event_key[0]) {
        fprintf(stderr, "kioskd hq signup: HQ imported no event under that key\n");
        return 1;
    }
    if (rc == KIOSKD_ENOTFOUND) {
        fprintf(stderr,
                "kioskd hq signup: %s has no event %lld at HQ yet (its event_created or "
                "event_linked entry comes with its next sync)\n",
                j.event_device, ev);
        return 1;
    }
    ev = j.event_id;
    if (rc) {
        fprintf(stderr, "kioskd hq signup: %s\n", kioskd_strerror(rc));
        return 1;
    }
    if (j.merged_into[0])
        printf("merged into %s: this phone is signed up for event %s/%lld already\n", j.merged_into,
               j.event_device, ev);
    else if (ev == 0)
        printf("%s\nsign-up %s:%lld for HQ's event %s, for %s to pull once it has linked it\n",
               code, j.kid, (long long)j.signup_id, j.event_key, j.event_device);
    else
        printf("%s\nsign-up %s:%lld for event %s/%lld, for %s to pull\n", code, j.kid,
               (long long)j.signup_id, j.event_device, ev, j.event_device);
    return 0;
}

/* --- kioskd hq import templates DIR_OR_FILE --- */

#define TEMPLATE_FILES_MAX 64
#define TEMPLATE_NAME_MAX 63
#define TEMPLATE_TEXT_MAX (64 * 1024)

/* The template files of an import, each KIND.CHANNEL.mustache as a branch
 * names it ([messages] templates): the branches check them against their own
 * kinds and variables, as at start-up, and keep their own on a bad one. */
struct template_files {
    char name[TEMPLATE_FILES_MAX][TEMPLATE_NAME_MAX + 1];
    char *text[TEMPLATE_FILES_MAX];
    size_t len[TEMPLATE_FILES_MAX];
    int n, next;
    char err[512];
};

static int template_add(struct template_files *tf, const char *path, const char *name)
{
    size_t nlen = strlen(name);
    if (nlen < 10 || nlen > TEMPLATE_NAME_MAX || strcmp(name + nlen - 9, ".mustache") != 0 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz_.") != nlen) {
        snprintf(tf->err, sizeof tf->err, "%s: a template is named KIND.CHANNEL.mustache", path);
        return KIOSKD_EINVAL;
    }
    if (tf->n == TEMPLATE_FILES_MAX) {
        snprintf(tf->err, sizeof tf->err, "%s: at most %d templates at once", path,
                 TEMPLATE_FILES_MAX);
        return KIOSKD_ETOOBIG;
    }
    char err[512];
    size_t len = 0;
    char *text = read_file(path, &len, err, sizeof err);
    if (!text) {
        snprintf(tf->err, sizeof tf->err, "%s", err);
        return KIOSKD_EIO;
    }
    if (len > TEMPLATE_TEXT_MAX || strlen(text) != len) {
        snprintf(tf->err, sizeof tf->err, "%s: at most %d bytes of text", path, TEMPLATE_TEXT_MAX);
        free(text);
        return KIOSKD_ETOOBIG;
    }
    snprintf(tf->name[tf->n], sizeof tf->name[0], "%s", name);
    tf->text[tf->n] = text;
    tf->len[tf->n++] = len;
    return 0;
}

static int templates_read(struct template_files *tf, const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        const char *slash = strrchr(path, '/');
        return template_add(tf, path, slash ? slash + 1 : path);
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 10 || strcmp(e->d_name + n - 9, ".mustache") != 0)
            continue;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        rc = template_add(tf, file, e->d_name);
    }
    closedir(d);
    if (rc == 0 && tf->n == 0) {
        snprintf(tf->err, sizeof tf->err, "%s: no KIND.CHANNEL.mustache file", path);
        rc = KIOSKD_EINVAL;
    }
    return rc;
}

static int template_next(void *arg, const char **kind, char key[201], json_t **data)
{
    struct template_files *tf = arg;
    if (tf->next == tf->n)
        return 0;
    int i = tf->next++;
    *kind = "template";
    snprintf(key, 201, "%s", tf->name[i]);
    *data = json_pack("{s:s, s:s%}", "name", tf->name[i], "text", tf->text[i], tf->len[i]);
    if (!*data) {
        snprintf(tf->err, sizeof tf->err, "%s: the text is not UTF-8", tf->name[i]);
        return KIOSKD_EINVAL;
    }
    return 1;
}

static int import_templates(struct kioskd *k, const char *path)
{
    struct template_files *tf = calloc(1, sizeof *tf);
    struct store_hq_import j;
    char err[512];
    if (!tf) {
        fprintf(stderr, "kioskd hq import: out of memory\n");
        return 1;
    }
    int rc = templates_read(tf, path);
    if (rc == 0 && (rc = hq_open(k, false, err, sizeof err)) != 0)
        snprintf(tf->err, sizeof tf->err, "%s", err);
    if (rc == 0) {
        store_hq_import_init(&j);
        j.crypto = &k->hq->crypto;
        j.next = template_next;
        j.arg = tf;
        rc = store_run(k->store, &j.job);
    }
    hq_close(k);
    if (rc)
        fprintf(stderr, "kioskd hq import: %s; nothing was imported\n",
                tf->err[0] ? tf->err : kioskd_strerror(rc));
    else
        printf("imported %lld templates for the branches to pull\n", (long long)j.rows);
    for (int i = 0; i < tf->n; i++)
        free(tf->text[i]);
    free(tf);
    return rc ? 1 : 0;
}

/* --- kioskd hq bind-code MEMBER_NO --- */

#define BIND_CODE_TTL 600

/* A one-time code for a member to bind a chat identity at HQ's bot, as a
 * branch's staff give one (POST /api/v1/members/{member_no}/bind_code): for
 * HQ's call centre to read out. Prints the code and its expiry. */
static int bind_code(struct kioskd *k, const char *member_no)
{
    char err[512], code[8];
    unsigned char mac[PII_HASH_LEN];
    struct store_hq_bind_code j;
    size_t n = strlen(member_no);
    if (n == 0 || n > 32 ||
        strspn(member_no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            n) {
        fprintf(stderr, "kioskd hq bind-code: MEMBER_NO is 1 to 32 letters, digits, '-' or '_'\n");
        return 2;
    }
    if (hq_open(k, false, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd hq: %s\n", err);
        hq_close(k);
        return 1;
    }
    int rc = KIOSKD_ECONFLICT;
    for (int tries = 0; rc == KIOSKD_ECONFLICT && tries < 5; tries++) {
        uint32_t x;
        store_hq_bind_code_init(&j);
        snprintf(j.member_no, sizeof j.member_no, "%s", member_no);
        if ((rc = rng_bytes(&k->hq->rng, &x, sizeof x)) != 0)
            break;
        snprintf(code, sizeof code, "%06u", (unsigned)(x % 1000000u));
        bot_keyed(&k->hq->pii, "bind", code, mac);
        bot_hex(mac, j.code_hash);
        j.expires_at = (int64_t)time(NULL) + BIND_CODE_TTL;
        rc = store_run(k->store, &j.job);
    }
    hq_close(k);
    if (rc == KIOSKD_ENOTFOUND)
        fprintf(stderr, "kioskd hq bind-code: HQ has no member %s (kioskd hq import members)\n",
                member_no);
    else if (rc)
        fprintf(stderr, "kioskd hq bind-code: %s\n", kioskd_strerror(rc));
    else
        printf("%s\nvalid for %d minutes: the member sends 绑定 PHONE %s to the bot\n", code,
               BIND_CODE_TTL / 60, code);
    mbedtls_platform_zeroize(code, sizeof code);
    return rc ? 1 : 0;
}

int hq_cli(struct kioskd *k, int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "bind-code") == 0)
        return bind_code(k, argv[2]);
    if (argc == 5 && strcmp(argv[1], "signup") == 0)
        return hq_signup(k, argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "export") == 0 && strcmp(argv[2], "signups") == 0)
        return export_signups(k);
    if (argc == 4 && strcmp(argv[1], "device") == 0 && strcmp(argv[2], "add") == 0)
        return device_add(k, argv[3], "");
    if (argc == 6 && strcmp(argv[1], "device") == 0 && strcmp(argv[2], "add") == 0 &&
        strcmp(argv[4], "--area") == 0)
        return device_add(k, argv[3], argv[5]);
    if (argc == 4 && strcmp(argv[1], "import") == 0 &&
        (strcmp(argv[2], "members") == 0 || strcmp(argv[2], "products") == 0 ||
         strcmp(argv[2], "events") == 0 || strcmp(argv[2], "balances") == 0))
        return import_file(k, argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "import") == 0 && strcmp(argv[2], "templates") == 0)
        return import_templates(k, argv[3]);
    fprintf(stderr,
            "usage: kioskd hq [-c FILE] [device add ID [--area NAME] | import "
            "members|products|events|balances FILE.csv | import templates DIR_OR_FILE | "
            "export signups | signup EVENT NAME PHONE | bind-code MEMBER_NO] (see kioskd hq "
            "--help)\n");
    return 2;
}
