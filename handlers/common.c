/* Shared handler helpers. */
#include "handlers/common.h"

#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mask.h"
#include "core/points.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "store/events.h"
#include "store/ledger.h"

void phone_hash(struct kioskd *k, const char *phone, unsigned char out[32])
{
    pii_hash(&k->pii, phone, strlen(phone), out);
}

bool guest_from_json(struct kioskd *k, struct jv *v, const char *name_key, const char *phone_key,
                     struct store_person *who)
{
    bool ok = true;
    const char *why = NULL;
    char name[160];
    const char *raw_name = jv_str(v, name_key, true, 0, 512);
    if (raw_name && validate_name(raw_name, name, sizeof name, &why) != 0) {
        jv_fail(v, name_key, why ? why : "is not valid");
        ok = false;
    }
    ok = ok && raw_name;
    const char *phone = jv_str(v, phone_key, true, 0, 64);
    if (phone && !validate_mobile(phone)) {
        jv_fail(v, phone_key, "must be an 11-digit mainland mobile number");
        phone = NULL;
    }
    if (!ok || !phone)
        return false;
    if (guest_person(k, name, phone, who) != 0) {
        jv_fail(v, name_key, "could not be stored");
        return false;
    }
    return true;
}

int guest_person(struct kioskd *k, const char *name, const char *phone, struct store_person *who)
{
    return guest_person_with(&k->pii, &k->rng, name, phone, who);
}

int guest_person_with(struct pii *pii, struct rng *rng, const char *name, const char *phone,
                      struct store_person *who)
{
    pii_hash(pii, phone, strlen(phone), who->phone_hash);
    char key[168] = "name:";
    int rc = validate_name_key(name, key + 5, sizeof key - 5) != 0 ||
                     pii_hash(pii, key, strlen(key), who->name_hash) != 0 ||
                     pii_seal(pii, rng, "phone", phone, strlen(phone), who->phone_enc,
                              sizeof who->phone_enc, &who->phone_enc_len) != 0 ||
                     pii_seal(pii, rng, "name", name, strlen(name), who->name_enc,
                              sizeof who->name_enc, &who->name_enc_len) != 0
                 ? KIOSKD_ECRYPTO
                 : 0;
    mbedtls_platform_zeroize(key, sizeof key);
    if (rc)
        return rc;
    mask_name(name, who->name_mask, sizeof who->name_mask);
    memcpy(who->phone_last4, phone + 7, 4);
    who->phone_last4[4] = '\0';
    return 0;
}

json_t *json_time(int64_t t)
{
    char s[40];
    return json_string(time_format_china(t, s, sizeof s));
}

json_t *json_time_us(int64_t t_us)
{
    return json_time(t_us / 1000000);
}

int limit_take(struct ratelimit *rl, const char *key)
{
    if (!rl)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ratelimit_take(rl, key, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

void ticket_check_verify(struct ticket_check *t, struct worker_ctx *ctx)
{
    t->rc = ticket_verify(&ctx->ring, t->code, strlen(t->code), &t->p);
    if (t->rc != KIOSKD_ENOTFOUND || !t->pem[0])
        return;
    struct ticket_key key;
    if (ticket_key_load_pem(&key, t->pem, strlen(t->pem)) != 0)
        return;
    struct ticket_keyring one = {.keys = {&key}, .n = 1};
    t->rc = ticket_verify(&one, t->code, strlen(t->code), &t->p);
    ticket_key_free(&key);
}

void ticket_check_refuse(struct req *r, int rc)
{
    if (rc == KIOSKD_ENOMEM)
        req_fail(r, rc);
    else
        req_refuse(r, WHY_BAD_TICKET);
}

void ticket_check_pulled_key(struct ticket_check *t, struct kioskd *k)
{
    if (strcmp(t->kid, k->kid) != 0 && t->kid[0] &&
        store_ticket_key_pem(k->store, t->kid, t->pem, sizeof t->pem) != 0)
        t->pem[0] = '\0';
}

static void ticket_check_run(struct work *w, struct worker_ctx *ctx)
{
    ticket_check_verify(container_of(w, struct ticket_check, work), ctx);
}

void ticket_check_init(struct ticket_check *t, const char *code, work_done_fn done)
{
    size_t start = strspn(code, " \t\r\n"), n = strlen(code + start);
    while (n && strchr(" \t\r\n", code[start + n - 1]))
        n--;
    if (n > TICKET_CODE_MAX)
        n = TICKET_CODE_MAX; /* longer than any ticket: verification refuses it */
    t->kid[0] = t->pem[0] = '\0';
    memcpy(t->code, code + start, n);
    t->code[n] = '\0';
    /* K1.<kid>.: verification checks the rest */
    if (n > 3 + TICKET_KID_LEN && memcmp(t->code, "K1.", 3) == 0) {
        memcpy(t->kid, t->code + 3, TICKET_KID_LEN);
        t->kid[TICKET_KID_LEN] = '\0';
    }
    t->work.run = ticket_check_run;
    t->work.done = done;
}

bool event_of_path(struct req *r, struct store_event *e)
{
    int rc = store_event_get(r->k->store, req_id(r, "id"), e);
    if (rc == KIOSKD_ENOTFOUND)
        req_refuse(r, WHY_EVENT_NOT_FOUND);
    else if (rc)
        req_fail(r, rc);
    return rc == 0;
}

void roster_phone_masked(struct kioskd *k, const struct store_roster_row *row, char *out, size_t n)
{
    char plain[32];
    size_t len;
    if (pii_open(&k->pii, "phone", row->phone_enc, row->phone_enc_len, plain, sizeof plain, &len) ==
        0)
        mask_phone(plain, out, n);
    else
        snprintf(out, n, "*******%s", row->phone_last4);
    mbedtls_platform_zeroize(plain, sizeof plain);
}

void audit_job_fill(struct store_audit_only *job, struct req *r, const char *action,
                    const char *kind, int64_t id)
{
    store_audit_only_init(job);
    store_actor_set(&job->by, r->session.staff_id, r->session.device);
    snprintf(job->action, sizeof job->action, "%s", action);
    snprintf(job->subject, sizeof job->subject, "%s:%lld", kind, (long long)id);
}

void audited_read_audit(struct audited_read *c, struct req *r, const char *action, const char *kind,
                        int64_t id)
{
    audit_job_fill(&c->job, r, action, kind, id);
    c->w.job = &c->job.job;
}

json_t *audited_read_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct audited_read *c = (struct audited_read *)w;
    json_t *doc = c->doc;
    c->doc = NULL;
    return doc;
}

void audited_read_release(struct write_ctx *w)
{
    json_decref(((struct audited_read *)w)->doc);
}

void points_rules_of(const struct kioskd *k, struct points_rules *r)
{
    r->checkin_bonus = k->cfg.points_checkin_bonus;
    r->referral_bonus = k->cfg.points_referral_bonus;
    r->per_10k = k->cfg.points_per_10k;
    r->expiry_years = (int)k->cfg.points_expiry_years;
}

void today_china(char out[11])
{
    points_china_date(now_s(), out);
}

bool china_date_start(const char *s, int64_t *t)
{
    if (!s || !validate_date(s))
        return false;
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    *t = time_days_from_civil(y, m, d) * 86400 - TIME_CHINA_OFFSET;
    return true;
}

bool query_date_range(struct req *r, int64_t days_default, int64_t days_max, char from[11],
                      char to[11])
{
    char from_s[16], to_s[16];
    bool long1 = false, long2 = false;
    const char *f = req_query_fit(r, "from", from_s, sizeof from_s, &long1);
    const char *t = req_query_fit(r, "to", to_s, sizeof to_s, &long2);
    int64_t from_t, to_t;
    if (!t && !long2) {
        today_china(to_s);
        t = to_s;
    }
    if (!china_date_start(t, &to_t)) {
        req_error(r, 422, "invalid_query", "to must be a date YYYY-MM-DD", NULL);
        return false;
    }
    if (!f && !long1) {
        points_china_date(to_t - (days_default - 1) * 86400, from_s);
        f = from_s;
    }
    if (!china_date_start(f, &from_t)) {
        req_error(r, 422, "invalid_query", "from must be a date YYYY-MM-DD", NULL);
        return false;
    }
    if (from_t > to_t || (to_t - from_t) / 86400 + 1 > days_max) {
        char msg[80];
        snprintf(msg, sizeof msg, "from must not be after to, at most %lld days apart",
                 (long long)days_max);
        req_error(r, 422, "invalid_query", msg, NULL);
        return false;
    }
    memcpy(from, f, DATE_LEN);
    memcpy(to, t, DATE_LEN);
    return true;
}

char *tier_shown_today(const char *tier, const char *trial_tier, const char *trial_until, char *out,
                       size_t n)
{
    char today[DATE_LEN];
    today_china(today);
    return points_tier_shown(tier, trial_tier, trial_until, today, out, n);
}

/* The rule is validate_text's; the field's JSON length also counts a NUL
 * inside the string, which strlen would stop at. */
void text_field(struct jv *v, const char *key, bool required, size_t max, char *out, size_t n)
{
    const char *s = jv_str(v, key, required, required ? 1 : 0, max * 4);
    if (!s)
        return; /* absent, or refused already */
    size_t len = json_string_length(json_object_get(v->root, key));
    const char *why = validate_text(s, len, required ? 1 : 0, max);
    if (why || len >= n) {
        jv_fail(v, key, why ? why : "is too long");
        return;
    }
    memcpy(out, s, len + 1);
}

/* Seals the decimal text of fen under aad into out. 0 or KIOSKD_ECRYPTO. */
int fen_seal(struct kioskd *k, const char *aad, int64_t fen, unsigned char *out, size_t cap,
             size_t *len)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)fen);
    int rc = pii_seal(&k->pii, &k->rng, aad, text, (size_t)n, out, cap, len);
    mbedtls_platform_zeroize(text, sizeof text);
    return rc ? KIOSKD_ECRYPTO : 0;
}

/* Unseals an amount sealed by fen_seal. 0 or KIOSKD_ECRYPTO. */
int fen_open(struct kioskd *k, const char *aad, const unsigned char *in, size_t len, int64_t *fen)
{
    return fen_open_with(&k->pii, aad, in, len, fen);
}

int fen_open_with(struct pii *p, const char *aad, const unsigned char *in, size_t len, int64_t *fen)
{
    char text[32];
    size_t n = 0;
    int rc = pii_open(p, aad, in, len, text, sizeof text - 1, &n);
    if (rc == 0) {
        text[n] = '\0';
        char *end;
        long long x = strtoll(text, &end, 10);
        rc = n > 0 && *end == '\0' && x >= 0 ? 0 : KIOSKD_ECRYPTO;
        *fen = x;
    }
    mbedtls_platform_zeroize(text, sizeof text);
    return rc ? KIOSKD_ECRYPTO : 0;
}
