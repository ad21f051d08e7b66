/* The branch's side of the HQ sync protocol, without the transport (daemon/sync.h). */
#include "daemon/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>
#include <zlib.h>

#include "core/points.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "daemon/cli.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/messages.h"
#include "daemon/templates.h"
#include "handlers/common.h"
#include "store/signups.h"

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

/* Replaces data[enc_key] (base64 of a value sealed with this branch's key
 * under aad) by data[key] in clear. A value that does not open (a key
 * replaced since) is dropped: HQ gets the entry without it. */
static int open_field(struct pii *pii, json_t *data, const char *enc_key, const char *key,
                      const char *aad)
{
    json_t *v = json_object_get(data, enc_key);
    unsigned char sealed[STORE_ENC_MAX];
    char plain[STORE_ENC_MAX];
    size_t slen = 0, plen = 0;
    int rc = 0;
    if (!json_is_string(v))
        return 0;
    if (mbedtls_base64_decode(sealed, sizeof sealed, &slen,
                              (const unsigned char *)json_string_value(v),
                              json_string_length(v)) == 0 &&
        pii_open(pii, aad, sealed, slen, plain, sizeof plain, &plen) == 0)
        rc = json_object_set_new(data, key, json_stringn(plain, plen)) == 0 ? 0 : KIOSKD_ENOMEM;
    mbedtls_platform_zeroize(plain, sizeof plain);
    json_object_del(data, enc_key);
    return rc;
}

/* Opens the personal data the outbox keeps sealed (sign-ups' and walk-ins'
 * name and phone), for the push only: HQ seals it again with its own key. */
static int open_personal(struct pii *pii, json_t *entries)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        json_t *data = json_object_get(e, "data");
        int rc = open_field(pii, data, "name_enc", "name", "name");
        if (rc == 0)
            rc = open_field(pii, data, "phone_enc", "phone", "phone");
        if (rc)
            return rc;
    }
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
    return sync_push_build_from(k, k->store, &k->pii, nonce, after, now, q, last, count);
}

int sync_push_build_from(const struct kioskd *k, struct store *from, struct pii *pii,
                         const char *nonce, int64_t after, int64_t now, struct sync_request *q,
                         int64_t *last, int *count)
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
    if ((rc = open_personal(pii, entries)) != 0)
        goto out;
    /* the ticket key travels with every push: HQ serves it to the other
     * devices (kind key), so tickets issued here verify there offline */
    json_t *doc =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "device", k->cfg.hq_device, "nonce", nonce,
                  "key", "kid", k->kid, "public_pem", k->public_pem, "entries", entries);
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
static const char *member_of(struct pii *pii, struct rng *rng, const struct tier_lines *lines,
                             json_t *d, struct store_member *m)
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
    int rc = import_member_seal_with(pii, rng, lines,
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

/* "kid" of a change's data into out: NULL or what is wrong. */
static const char *kid_of(json_t *d, char out[16])
{
    const char *kid = str_of(d, "kid");
    if (strlen(kid) != TICKET_KID_LEN ||
        strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            TICKET_KID_LEN)
        return "a kid is not valid";
    snprintf(out, 16, "%s", kid);
    return NULL;
}

/* A positive integer member of d into *out; false when it is not one. */
static bool positive_of(json_t *d, const char *key, int64_t *out)
{
    json_t *v = json_object_get(d, key);
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* Checks another device's ticket key; *own when it is this daemon's. */
static const char *key_of(const struct kioskd *k, json_t *d, struct store_sync_key *key, bool *own)
{
    struct ticket_key tk;
    const char *pem = str_of(d, "public_pem");
    const char *why = kid_of(d, key->kid);
    if (why)
        return why;
    *own = strcmp(key->kid, k->kid) == 0;
    if (strlen(pem) >= sizeof key->pem || ticket_key_load_pem(&tk, pem, strlen(pem)) != 0)
        return "a key's public_pem is not a P-256 public key";
    bool same = strcmp(tk.kid, key->kid) == 0 && !tk.has_private;
    ticket_key_free(&tk);
    if (!same)
        return "a key's kid is not its public key's";
    snprintf(key->pem, sizeof key->pem, "%s", pem);
    return NULL;
}

/* Checks a sign-up taken elsewhere and seals its guest with this branch's key. */
static const char *signup_of(struct pii *pii, struct rng *rng, json_t *d,
                             struct store_sync_signup *g)
{
    const char *status = str_of(d, "status"), *source = str_of(d, "source");
    const char *consent = str_of(d, "consent_version"), *device = str_of(d, "device");
    const char *why = kid_of(d, g->kid);
    if (why)
        return why;
    if (!positive_of(d, "signup_id", &g->origin_id) || !positive_of(d, "event_id", &g->event_id) ||
        !positive_of(d, "issued_at", &g->issued_at))
        return "a sign-up's signup_id, event_id or issued_at is not valid";
    json_t *te = json_object_get(d, "ticket_event_id");
    if (te && (!json_is_integer(te) || json_integer_value(te) < 0))
        return "a sign-up's ticket_event_id is not valid";
    g->ticket_event_id = te ? (int64_t)json_integer_value(te) : -1;
    if (strcmp(status, "confirmed") != 0 && strcmp(status, "waitlisted") != 0)
        return "a sign-up's status is not confirmed or waitlisted";
    if (strcmp(source, "kiosk") != 0 && strcmp(source, "bot") != 0 && strcmp(source, "staff") != 0)
        return "a sign-up's source is not kiosk, bot or staff";
    if (strlen(consent) == 0 || strlen(consent) >= sizeof g->consent_version ||
        strlen(device) == 0 || strlen(device) >= sizeof g->device)
        return "a sign-up's consent_version or device is not valid";
    char name[160];
    const char *phone = str_of(d, "phone");
    if (validate_name(str_of(d, "name"), name, sizeof name, &why) != 0)
        return "a sign-up's name is not valid";
    int rc = validate_mobile(phone) ? guest_person_with(pii, rng, name, phone, &g->who) : -1;
    mbedtls_platform_zeroize(name, sizeof name);
    if (rc)
        return "a sign-up's phone is not valid or could not be sealed";
    snprintf(g->status, sizeof g->status, "%s", status);
    snprintf(g->source, sizeof g->source, "%s", source);
    snprintf(g->consent_version, sizeof g->consent_version, "%s", consent);
    snprintf(g->device, sizeof g->device, "%s", device);
    return NULL;
}

static const char *revocation_of(json_t *d, struct store_sync_revocation *r)
{
    const char *why = kid_of(d, r->kid);
    if (why)
        return why;
    if (!positive_of(d, "signup_id", &r->signup_id) || !positive_of(d, "issued_at", &r->issued_at))
        return "a revocation's signup_id or issued_at is not valid";
    return NULL;
}

/* Checks one event change into e: another branch's (of this one's area) or,
 * when its branch is this device, this branch's own (branch ""). */
static const char *event_of(const struct kioskd *k, json_t *d, struct store_pulled_event *e)
{
    const char *key = str_of(d, "key"), *branch = str_of(d, "branch");
    const char *title = str_of(d, "title"), *kind = str_of(d, "kind"), *venue = str_of(d, "venue");
    const char *status = str_of(d, "status"); /* absent: open (HQs before status) */
    json_t *cap = json_object_get(d, "capacity");
    memset(e, 0, sizeof *e);
    if (strlen(key) == 0 || strlen(key) > SYNC_KEY_MAX)
        return "an event's key is not valid";
    if (!hqsig_device_ok(branch))
        return "an event's branch is not valid";
    if (validate_text(title, strlen(title), 1, EVENT_TITLE_MAX))
        return "an event's title is not valid";
    if (strcmp(kind, "upgrade") && strcmp(kind, "salon") && strcmp(kind, "community"))
        return "an event's kind is not valid";
    if (time_parse_rfc3339(str_of(d, "starts_at"), &e->ev.starts_at) != 0 ||
        time_parse_rfc3339(str_of(d, "ends_at"), &e->ev.ends_at) != 0 ||
        e->ev.ends_at <= e->ev.starts_at)
        return "an event's times are not valid";
    if (validate_text(venue, strlen(venue), 1, EVENT_VENUE_MAX))
        return "an event's venue is not valid";
    if (!json_is_integer(cap) || json_integer_value(cap) < 1 || json_integer_value(cap) > 100000)
        return "an event's capacity is not valid";
    if (*status && strcmp(status, "open") && strcmp(status, "cancelled"))
        return "an event's status is not open or cancelled";
    e->cancel = strcmp(status, "cancelled") == 0;
    snprintf(e->hq_key, sizeof e->hq_key, "%s", key);
    if (strcmp(branch, k->cfg.hq_device) != 0)
        snprintf(e->branch, sizeof e->branch, "%s", branch);
    snprintf(e->ev.title, sizeof e->ev.title, "%s", title);
    snprintf(e->ev.kind, sizeof e->ev.kind, "%s", kind);
    snprintf(e->ev.venue, sizeof e->ev.venue, "%s", venue);
    e->ev.capacity = (int64_t)json_integer_value(cap);
    return NULL;
}

/* Checks one points line earned at HQ into b. */
static const char *balance_of(json_t *d, struct store_pulled_balance *b)
{
    const char *id = str_of(d, "id"), *no = str_of(d, "member_no"), *note = str_of(d, "reason");
    json_t *pts = json_object_get(d, "points");
    size_t ilen = strlen(id), nlen = strlen(no);
    memset(b, 0, sizeof *b);
    if (ilen == 0 || ilen > SYNC_LINE_ID_MAX ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != ilen)
        return "a balance line's id is not valid";
    if (nlen == 0 || nlen > MEMBER_NO_MAX ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return "a balance line's member_no is not valid";
    if (!json_is_integer(pts) || json_integer_value(pts) < 1 || json_integer_value(pts) > 10000000)
        return "a balance line's points are not valid";
    if (validate_text(note, strlen(note), 1, SYNC_NOTE_MAX))
        return "a balance line's reason is not valid";
    if (time_parse_rfc3339(str_of(d, "at"), &b->at) != 0)
        return "a balance line's at is not valid";
    snprintf(b->hq_id, sizeof b->hq_id, "%s", id);
    snprintf(b->member_no, sizeof b->member_no, "%s", no);
    snprintf(b->note, sizeof b->note, "%s", note);
    b->points = (int64_t)json_integer_value(pts);
    return NULL;
}

/* Checks one template change as the daemon checks its templates at start
 * (daemon/templates.h) into t; a template that does not check is refused
 * with a log line (*refused), the branch keeping its own. */
static const char *template_of(json_t *d, struct store_pulled_template *t, bool *refused)
{
    const char *name = str_of(d, "name");
    json_t *text = json_object_get(d, "text");
    size_t nlen = strlen(name);
    char err[256];
    memset(t, 0, sizeof *t);
    *refused = false;
    if (nlen == 0 || nlen > SYNC_TEMPLATE_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz_.") != nlen)
        return "a template's name is not valid";
    if (!json_is_string(text))
        return "a template's text is not a string";
    size_t len = json_string_length(text);
    if (templates_check(name, json_string_value(text), len, err, sizeof err) != 0) {
        log_warn("hq_template_refused", "name=%s error=\"%s\"", name, err);
        *refused = true;
        return NULL;
    }
    if (!(t->text = malloc(len + 1)))
        return "out of memory";
    memcpy(t->text, json_string_value(text), len + 1);
    t->len = len;
    snprintf(t->name, sizeof t->name, "%s", name);
    return NULL;
}

int sync_pull_read(struct kioskd *k, const char *body, size_t len, struct sync_page *p, char *why,
                   size_t whylen)
{
    return sync_pull_read_with(k, &k->pii, &k->rng, body, len, p, why, whylen);
}

int sync_pull_read_with(const struct kioskd *k, struct pii *pii, struct rng *rng, const char *body,
                        size_t len, struct sync_page *p, char *why, size_t whylen)
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
    p->keys = calloc(n ? n : 1, sizeof *p->keys);
    p->signups = calloc(n ? n : 1, sizeof *p->signups);
    p->revocations = calloc(n ? n : 1, sizeof *p->revocations);
    p->events = calloc(n ? n : 1, sizeof *p->events);
    p->balances = calloc(n ? n : 1, sizeof *p->balances);
    p->templates = calloc(n ? n : 1, sizeof *p->templates);
    p->job.expiry_years = (int)k->cfg.points_expiry_years;
    if (!p->members || !p->products || !p->keys || !p->signups || !p->revocations || !p->events ||
        !p->balances || !p->templates) {
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
            problem = member_of(pii, rng, &lines, d, &p->members[p->job.nmembers++]);
        else if (strcmp(kind, "product") == 0)
            problem = product_of(d, &p->products[p->job.nproducts++]);
        else if (strcmp(kind, "key") == 0) {
            bool own = false;
            problem = key_of(k, d, &p->keys[p->job.nkeys], &own);
            if (own)
                p->job.skipped++;
            else
                p->job.nkeys++;
        } else if (strcmp(kind, "signup") == 0)
            problem = signup_of(pii, rng, d, &p->signups[p->job.nsignups++]);
        else if (strcmp(kind, "revocation") == 0)
            problem = revocation_of(d, &p->revocations[p->job.nrevocations++]);
        else if (strcmp(kind, "event") == 0)
            problem = event_of(k, d, &p->events[p->job.nevents++]);
        else if (strcmp(kind, "balance") == 0)
            problem = balance_of(d, &p->balances[p->job.nbalances++]);
        else if (strcmp(kind, "template") == 0) {
            bool refused = false;
            problem = template_of(d, &p->templates[p->job.ntemplates], &refused);
            if (refused)
                p->job.refused++;
            else if (!problem)
                p->job.ntemplates++;
        } else
            p->job.skipped++;
        if (problem)
            goto out;
    }
    p->job.members = p->members;
    p->job.products = p->products;
    snprintf(p->job.own_kid, sizeof p->job.own_kid, "%s", k->kid);
    p->job.keys = p->keys;
    p->job.signups = p->signups;
    p->job.revocations = p->revocations;
    p->job.events = p->events;
    p->job.balances = p->balances;
    p->job.templates = p->templates;
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
    if (p->signups)
        mbedtls_platform_zeroize(p->signups, p->job.nsignups * sizeof *p->signups);
    free(p->members);
    free(p->products);
    free(p->keys);
    free(p->signups);
    free(p->revocations);
    free(p->events);
    free(p->balances);
    for (size_t i = 0; p->templates && i < p->job.ntemplates; i++)
        free(p->templates[i].text);
    free(p->templates);
    p->members = NULL;
    p->products = NULL;
    p->keys = NULL;
    p->signups = NULL;
    p->revocations = NULL;
    p->events = NULL;
    p->balances = NULL;
    p->templates = NULL;
}

int64_t sync_page_applied(struct kioskd *k, const struct sync_page *p)
{
    const struct store_sync_page *j = &p->job;
    for (size_t i = 0; i < j->nevents; i++) {
        if (j->events[i].cancelled) {
            log_info("hq_event_cancelled", "event_id=%lld", (long long)j->events[i].id);
            live_publish(k, j->events[i].id, json_pack("{s:s}", "type", "event_cancelled"));
        }
        if (j->events[i].capacity_kept)
            log_warn("hq_event_capacity_kept",
                     "event_id=%lld hq_capacity=%lld capacity=%lld signed_up=%lld",
                     (long long)j->events[i].id, (long long)j->events[i].ev.capacity,
                     (long long)j->events[i].kept_capacity, (long long)j->events[i].confirmed);
    }
    if (j->balances_pending)
        log_info("hq_balance_pending", "lines=%lld", (long long)j->balances_pending);
    if (j->nevents) {
        k->events_cache.valid = false; /* GET /api/v1/events is built again */
        messages_poke(k);              /* a sign-up promoted from the waitlist is told */
    }
    for (size_t i = 0; i < j->ntemplates; i++) {
        char err[256];
        if (messages_template_pulled(k, j->templates[i].name, j->templates[i].text,
                                     j->templates[i].len, err, sizeof err) != 0)
            log_warn("hq_template_refused", "name=%s error=\"%s\"", j->templates[i].name, err);
        else
            log_info("hq_template", "name=%s", j->templates[i].name);
    }
    return store_sync_page_changes(j);
}
