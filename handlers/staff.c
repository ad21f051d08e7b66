/*
 * Staff login and logout. The PIN is checked on a worker (argon2id takes tens
 * of milliseconds); the outcome (session, or a counted failure that may lock
 * the account) is decided and recorded on the writer thread.
 */
#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pin.h"
#include "core/status.h"
#include "core/validate.h"
#include "daemon/live.h"
#include "daemon/log.h"
#include "daemon/worker.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/staff.h"

struct login_ctx {
    struct store_login job;
    struct work work;
    struct req_wait wait;
    struct kioskd *k;
    char pin[PIN_MAX_LEN + 1];
    char hash[192];
    bool unknown; /* no such staff id: verify against a dummy to spend the same time */
    char token[64];
    bool skip_verify;
};

static bool id_ok(const char *s)
{
    return s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
                    strlen(s);
}

static void login_free(struct login_ctx *c)
{
    mbedtls_platform_zeroize(c, sizeof *c);
    free(c);
}

static void login_stored(struct store_job *job)
{
    struct login_ctx *c = container_of(job, struct login_ctx, job.job);
    struct req *r = req_resume(&c->wait);
    struct store_login *j = &c->job;
    if (job->rc == 0 && j->locked_now) /* an unknown id as typed could be anything: not logged */
        log_warn("staff_locked", "staff_id=%s scope=%s until=%lld",
                 j->known ? j->staff_id : "(unknown)", j->locked_everywhere ? "all" : "address",
                 (long long)j->locked_until);
    if (r) {
        if (job->rc) {
            req_fail(r, job->rc);
        } else if (j->result == KIOSKD_ELOCKED) {
            int64_t wait = j->locked_until - now_s();
            r->retry_after = wait > 0 ? (int)wait : 1;
            req_error(r, 429, "account_locked",
                      "too many wrong PINs; this account is locked for a while", NULL);
        } else if (j->result) {
            req_error(r, 401, "bad_credentials", "wrong staff id or PIN", NULL);
        } else {
            req_json(r, 200,
                     json_pack("{s:s, s:s, s:s, s:s, s:o}", "token", c->token, "role", j->role,
                               "staff_id", j->staff_id, "device", j->device, "expires_at",
                               json_time(j->expires_at)));
        }
    }
    login_free(c);
}

static void verify_run(struct work *w, struct worker_ctx *ctx)
{
    struct login_ctx *c = container_of(w, struct login_ctx, work);
    (void)ctx;
    bool match = !c->skip_verify && pin_verify(c->hash, c->pin);
    c->job.pin_ok = match && !c->unknown;
    mbedtls_platform_zeroize(c->pin, sizeof c->pin);
}

static void verified(struct work *w)
{
    struct login_ctx *c = container_of(w, struct login_ctx, work);
    struct req *r = req_resume(&c->wait);
    if (!r) {
        login_free(c);
        return;
    }
    if (w->rc) { /* not hashed: cancelled by shutdown */
        req_fail(r, w->rc);
        login_free(c);
        return;
    }
    if (req_submit(r, &c->job.job, &c->wait) != 0)
        login_free(c);
}

/* Makes a new random token (base64url) and its SHA-256. */
static int new_token(struct kioskd *k, char *out, size_t n, unsigned char hash[32])
{
    unsigned char raw[32];
    size_t len;
    if (rng_bytes(&k->rng, raw, sizeof raw) ||
        mbedtls_base64_encode((unsigned char *)out, n, &len, raw, sizeof raw) != 0)
        return KIOSKD_ECRYPTO;
    mbedtls_platform_zeroize(raw, sizeof raw);
    while (len && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return mbedtls_sha256_ret((unsigned char *)out, len, hash, 0) ? KIOSKD_ECRYPTO : 0;
}

/* POST /api/v1/staff/login {"staff_id","pin","device"} */
static void login(struct req *r)
{
    struct kioskd *k = r->k;
    struct jv *v = &r->json; /* wiped when the request ends (ROUTE_SECRET) */
    struct login_ctx *c = NULL;
    const char *id = jv_str(v, "staff_id", true, 1, 32);
    const char *pin = jv_str(v, "pin", true, 1, PIN_MAX_LEN);
    const char *device = jv_str(v, "device", false, 1, 64);
    char device_name[VALIDATE_DEVICE_BUF] = "tablet";
    const char *device_why = NULL;
    if (id && !id_ok(id))
        jv_fail(v, "staff_id", "may hold only letters, digits, '-', '_' and '.'");
    if (device && validate_device(device, device_name, sizeof device_name, &device_why) != 0)
        jv_fail(v, "device", device_why ? device_why : VALIDATE_DEVICE_RULE);
    if (req_fields_failed(r, v))
        goto out;
    /* "" is the store's key for all addresses together: never a client's own */
    const char *addr = r->peer[0] ? r->peer : "(unknown)";
    /* in front of argon2id: per address, then per staff id (known or not alike) */
    int wait = limit_take(k->login_addr_rl, addr);
    if (!wait)
        wait = limit_take(k->login_id_rl, id);
    if (wait) {
        metrics_add(&k->metrics, MC_RATE_LIMITED, 1);
        r->retry_after = wait;
        req_error(r, 429, "rate_limited", "too many login attempts; wait a minute", NULL);
        goto out;
    }
    c = req_calloc(r, sizeof *c);
    if (!c)
        goto out;
    c->k = k;
    store_login_init(&c->job);
    c->job.job.done = login_stored;
    snprintf(c->job.staff_id, sizeof c->job.staff_id, "%s", id);
    snprintf(c->job.device, sizeof c->job.device, "%s", device_name);
    snprintf(c->pin, sizeof c->pin, "%s", pin);
    c->job.now = now_s();
    c->job.ttl = k->cfg.staff_token_ttl;
    c->job.lock_after = k->cfg.staff_lock_after;
    c->job.lock_global = k->cfg.staff_lock_global;
    c->job.lock_seconds = k->cfg.staff_lock_seconds;
    snprintf(c->job.addr, sizeof c->job.addr, "%s", addr);
    struct store_staff sf;
    int64_t locked_until = 0;
    int rc = store_staff_get(k->store, id, &sf);
    if (rc && rc != KIOSKD_ENOTFOUND) {
        req_fail(r, rc);
        goto out;
    }
    /* an unknown id costs the same time as a wrong PIN */
    snprintf(c->hash, sizeof c->hash, "%s", rc ? pin_dummy_hash : sf.pin_hash);
    c->unknown = rc != 0;
    mbedtls_platform_zeroize(&sf, sizeof sf);
    /* locked (known or not): the writer refuses it, so the PIN is not checked */
    if ((rc = store_login_locked(k->store, id, addr, c->job.now, &locked_until)) != 0) {
        req_fail(r, rc);
        goto out;
    }
    c->skip_verify = locked_until > 0;
    if (new_token(k, c->token, sizeof c->token, c->job.token_hash) != 0) {
        req_fail(r, KIOSKD_ECRYPTO);
        goto out;
    }
    c->work.run = verify_run;
    c->work.done = verified;
    c->work.cls = WORK_SLOW; /* never ahead of door work */
    if (req_submit_work(r, &c->work, &c->wait) == 0)
        c = NULL;
out:
    if (c)
        login_free(c);
}

/* POST /api/v1/staff/logout: revokes the token it is called with. */
struct logout_ctx {
    struct write_ctx w;
    struct store_logout job;
};

static int logout_fill(struct req *r, struct write_ctx *w)
{
    struct logout_ctx *c = (struct logout_ctx *)w;
    char auth[160];
    int n = lws_hdr_copy(r->wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    int rc = n > 7 ? 0 : KIOSKD_EAUTH; /* the dispatcher has checked the token already */
    if (rc == 0 &&
        mbedtls_sha256_ret((unsigned char *)auth + 7, (size_t)n - 7, c->job.token_hash, 0) != 0)
        rc = KIOSKD_ECRYPTO;
    mbedtls_platform_zeroize(auth, sizeof auth);
    if (rc)
        return rc;
    store_logout_init(&c->job);
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *logout_reply(struct write_ctx *w, int *status)
{
    (void)w;
    (void)status;
    return json_pack("{s:s}", "status", "logged_out");
}

/* The live view opened with this token ends with it. */
static void logout_effects(struct write_ctx *w)
{
    live_close_token(w->k, ((struct logout_ctx *)w)->job.token_hash);
}

static const struct route_write logout = {
    .ctx_size = sizeof(struct logout_ctx),
    .fill = logout_fill,
    .effects = logout_effects,
    .reply = logout_reply,
};

/* GET /api/v1/staff/me: who the token belongs to. */
static void me(struct req *r)
{
    req_json(r, 200,
             json_pack("{s:s, s:s, s:s, s:o}", "staff_id", r->session.staff_id, "role",
                       r->session.role, "device", r->session.device, "expires_at",
                       json_time(r->session.expires_at)));
}

/* DELETE /api/v1/staff/{id}/sessions (admin): logs a staff member out everywhere,
 * e.g. when a tablet is lost. */
struct revoke_ctx {
    struct write_ctx w;
    struct store_sessions_revoke job;
};

static int revoke_fill(struct req *r, struct write_ctx *w)
{
    struct revoke_ctx *c = (struct revoke_ctx *)w;
    const char *target = req_param(r, "id");
    if (!id_ok(target) || strlen(target) > 32) {
        req_refuse(r, WHY_STAFF_NOT_FOUND);
        return KIOSKD_ENOTFOUND;
    }
    store_sessions_revoke_init(&c->job);
    snprintf(c->job.target, sizeof c->job.target, "%s", target);
    store_actor_set(&c->job.by, r->session.staff_id, r->session.device);
    w->job = &c->job.job;
    return 0;
}

static json_t *revoke_reply(struct write_ctx *w, int *status)
{
    (void)status;
    struct revoke_ctx *c = (struct revoke_ctx *)w;
    return json_pack("{s:s, s:i}", "staff_id", c->job.target, "revoked", c->job.revoked);
}

/* Every live view of the staff member ends with their sessions. */
static void revoke_effects(struct write_ctx *w)
{
    live_close_staff(w->k, ((struct revoke_ctx *)w)->job.target);
}

static const struct route_write revoke_sessions = {
    .ctx_size = sizeof(struct revoke_ctx),
    .fill = revoke_fill,
    .effects = revoke_effects,
    .reply = revoke_reply,
};

const struct route staff_routes[] = {
    {.method = HTTP_POST,
     .pattern = "/api/v1/staff/login",
     .flags = ROUTE_PUBLIC | ROUTE_BODY | ROUTE_SECRET,
     .body_max = 4096,
     .fn = login},
    {.method = HTTP_POST, .pattern = "/api/v1/staff/logout", .role = ROLE_STAFF, .write = &logout},
    {.method = HTTP_GET, .pattern = "/api/v1/staff/me", .role = ROLE_STAFF, .fn = me},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/staff/{id}/sessions",
     .role = ROLE_ADMIN,
     .write = &revoke_sessions},
    {0},
};
