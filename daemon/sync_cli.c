/*
 * kioskd sync --once: one push of the outbox (in batches of [hq] batch, until
 * HQ has everything or stops taking it) and one pull (page by page until HQ
 * says there is no more), each request signed and sent over libcurl's easy
 * interface with TLS verified. A command-line tool, never the event loop.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "daemon/app.h"
#include "daemon/log.h"
#include "daemon/sync.h"

#define ANSWER_MAX (64 * 1024 * 1024)
#define PULL_PAGE 500

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* Sends q to HQ; *status gets the HTTP status and answer the body. Returns 0
 * or KIOSKD_EIO with err (no answer at all). */
static int send_request(struct kioskd *k, CURL *c, const struct sync_request *q, long *status,
                        struct buf *answer, char *err, size_t errlen)
{
    char url[2048], auth[HQSIG_HEADER_MAX + 32];
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = NULL;
    const char *base = k->cfg.hq_url;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    int n = snprintf(url, sizeof url, "%.*s%s", (int)blen, base, q->path);
    if (n < 0 || (size_t)n >= sizeof url) {
        snprintf(err, errlen, "[hq] url is too long");
        return KIOSKD_EINVAL;
    }
    buf_reset(answer);
    snprintf(auth, sizeof auth, "Authorization: %s", q->authorization);
    h = curl_slist_append(h, auth);
    if (strcmp(q->method, "POST") == 0) {
        h = curl_slist_append(h, "Content-Type: application/json");
        if (q->gzip)
            h = curl_slist_append(h, "Content-Encoding: gzip");
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)k->cfg.hq_timeout);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (k->cfg.hq_ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, k->cfg.hq_ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
    if (strcmp(q->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body.data ? q->body.data : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body.len);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(h);
    memset(auth, 0, sizeof auth);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
        return KIOSKD_EIO;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* The error code of HQ's error answer, for the message. */
static void hq_error(const struct buf *answer, long status, char *out, size_t n)
{
    json_error_t err;
    json_t *doc = json_loadb(answer->data ? answer->data : "", answer->len, 0, &err);
    const char *code = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    snprintf(out, n, "HQ answered %ld%s%s", status, code ? " " : "", code ? code : "");
    json_decref(doc);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* Pushes the outbox; returns 0 or 1 with the reason printed. */
static int push_all(struct kioskd *k, CURL *c, struct buf *answer, int64_t *pushed, int *batches,
                    int64_t *cursor)
{
    struct store_sync_state st;
    char err[512];
    int rc = store_sync_state(k->store, &st);
    if (rc) {
        fprintf(stderr, "kioskd sync: cannot read the outbox: %s\n", kioskd_strerror(rc));
        return 1;
    }
    *cursor = st.acked_seq;
    for (;;) {
        struct sync_request q;
        int64_t last = 0, acked = 0;
        int count = 0;
        long status = 0;
        rc = sync_push_build(k, *cursor, now_s(), &q, &last, &count);
        if (rc || count == 0) {
            sync_request_free(&q);
            if (rc)
                fprintf(stderr, "kioskd sync: cannot build a push: %s\n", kioskd_strerror(rc));
            return rc ? 1 : 0;
        }
        rc = send_request(k, c, &q, &status, answer, err, sizeof err);
        sync_request_free(&q);
        if (rc) {
            fprintf(stderr, "kioskd sync: push failed: %s\n", err);
            log_warn("sync_failed", "step=push reason=network");
            return 1;
        }
        if (status != 200 || sync_push_answer(answer->data, answer->len, &acked) != 0) {
            hq_error(answer, status, err, sizeof err);
            fprintf(stderr, "kioskd sync: push refused: %s\n", err);
            log_warn("sync_failed", "step=push status=%ld", status);
            return 1;
        }
        struct store_sync_ack j;
        store_sync_ack_init(&j);
        j.acked = acked;
        j.sent = last;
        if ((rc = store_run(k->store, &j.job)) != 0) {
            fprintf(stderr, "kioskd sync: cannot record HQ's ack: %s\n", kioskd_strerror(rc));
            return 1;
        }
        (*batches)++;
        *pushed += j.advanced;
        log_info("sync_pushed", "entries=%d acked_through=%lld cursor=%lld", count,
                 (long long)acked, (long long)j.cursor);
        if (j.advanced == 0) {
            /* HQ lacks an entry before this batch: it is resent from the cursor next
             * round; stopping here keeps a round from looping */
            fprintf(stderr,
                    "kioskd sync: HQ acknowledged through %lld only; the rest waits for the "
                    "next round\n",
                    (long long)acked);
            return 1;
        }
        *cursor = j.cursor;
        if (j.cursor < last)
            return 0; /* HQ holds a gap; the next round resends from the cursor */
    }
}

/* Pulls every page; returns 0 or 1 with the reason printed. */
static int pull_all(struct kioskd *k, CURL *c, struct buf *answer, int64_t *changes, int *pages,
                    struct store_sync_page *sum)
{
    char err[512];
    for (;;) {
        struct store_sync_state st;
        struct sync_request q;
        struct sync_page p;
        long status = 0;
        int rc = store_sync_state(k->store, &st);
        if (rc == 0)
            rc = sync_pull_build(k, st.pull_cursor[0] ? st.pull_cursor : "0", PULL_PAGE, now_s(),
                                 &q);
        if (rc) {
            fprintf(stderr, "kioskd sync: cannot build a pull: %s\n", kioskd_strerror(rc));
            return 1;
        }
        rc = send_request(k, c, &q, &status, answer, err, sizeof err);
        sync_request_free(&q);
        if (rc) {
            fprintf(stderr, "kioskd sync: pull failed: %s\n", err);
            log_warn("sync_failed", "step=pull reason=network");
            return 1;
        }
        if (status != 200) {
            hq_error(answer, status, err, sizeof err);
            fprintf(stderr, "kioskd sync: pull refused: %s\n", err);
            log_warn("sync_failed", "step=pull status=%ld", status);
            return 1;
        }
        if (sync_pull_read(k, answer->data, answer->len, &p, err, sizeof err) != 0) {
            fprintf(stderr, "kioskd sync: HQ's pull answer is not valid: %s\n", err);
            return 1;
        }
        rc = store_run(k->store, &p.job.job);
        int64_t n = rc ? 0 : sync_page_applied(k, &p);
        sum->nmembers += p.job.nmembers;
        sum->nproducts += p.job.nproducts;
        sum->events_added += p.job.events_added;
        sum->events_updated += p.job.events_updated;
        sum->balances_added += p.job.balances_added;
        sum->balances_known += p.job.balances_known;
        sum->balances_pending += p.job.balances_pending;
        sum->nbalances += p.job.nbalances;
        sum->ntemplates += p.job.ntemplates;
        sum->refused += p.job.refused;
        sum->skipped += p.job.skipped;
        sum->keys_added += p.job.keys_added;
        sum->signups_applied += p.job.signups_applied;
        sum->revocations_applied += p.job.revocations_applied;
        bool more = p.more;
        sync_page_free(&p);
        if (rc) {
            fprintf(stderr, "kioskd sync: cannot apply HQ's changes: %s\n", kioskd_strerror(rc));
            return 1;
        }
        *changes += n;
        (*pages)++;
        if (!more || n == 0)
            return 0;
    }
}

int cli_sync(struct kioskd *k, int argc, char **argv)
{
    char err[512];
    if (argc != 2 || strcmp(argv[1], "--once") != 0) {
        fprintf(stderr, "usage: kioskd sync --once [-c FILE]\n");
        return 2;
    }
    if (!k->cfg.hq_url[0] || !k->cfg.hq_device[0] || !k->cfg.hq_secret[0]) {
        fprintf(stderr, "kioskd sync: set [hq] url, device and secret first (docs/sync.md)\n");
        return 2;
    }
    if (!hqsig_device_ok(k->cfg.hq_device)) {
        fprintf(stderr, "kioskd sync: [hq] device must be 1 to 64 of A-Z a-z 0-9 . _ -\n");
        return 2;
    }
    if (log_open(k->cfg.log_file, k->cfg.log_level) != 0) {
        fprintf(stderr, "kioskd: cannot open log file %s\n", k->cfg.log_file);
        return 1;
    }
    if (app_open(k, false, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd sync: %s\n", err);
        app_close(k);
        log_close();
        return 1;
    }
    CURL *c = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? curl_easy_init() : NULL;
    struct buf answer;
    int64_t pushed = 0, cursor = 0, changes = 0;
    struct store_sync_page sum;
    int batches = 0, pages = 0, rc = 1;
    buf_init(&answer, ANSWER_MAX);
    if (!c) {
        fprintf(stderr, "kioskd sync: cannot start libcurl\n");
        goto out;
    }
    rc = push_all(k, c, &answer, &pushed, &batches, &cursor);
    printf("pushed %lld entries in %d batches; HQ has the outbox through seq %lld\n",
           (long long)pushed, batches, (long long)cursor);
    if (rc == 0) {
        store_sync_page_init(&sum);
        rc = pull_all(k, c, &answer, &changes, &pages, &sum);
        printf("pulled %lld changes in %d pages: %lld members, %lld products, %lld events "
               "(%lld new), %lld balance lines (%lld merged, %lld already here, %lld kept until HQ "
               "sends their member), %lld templates (%lld refused), %lld not applied here yet\n",
               (long long)changes, pages, (long long)sum.nmembers, (long long)sum.nproducts,
               (long long)(sum.events_added + sum.events_updated), (long long)sum.events_added,
               (long long)sum.nbalances, (long long)sum.balances_added,
               (long long)sum.balances_known, (long long)sum.balances_pending,
               (long long)(sum.ntemplates + sum.refused), (long long)sum.refused,
               (long long)sum.skipped);
        printf("applied %lld new ticket keys, %lld sign-ups taken elsewhere, %lld revocations\n",
               (long long)sum.keys_added, (long long)sum.signups_applied,
               (long long)sum.revocations_applied);
    }
out:
    buf_free(&answer);
    if (c)
        curl_easy_cleanup(c);
    curl_global_cleanup();
    app_close(k);
    log_close();
    return rc;
}
