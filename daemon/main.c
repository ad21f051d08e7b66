/*
 * kioskd's entry point: the subcommand table and `serve`, which wires the
 * config, store, router and HTTP server together and runs the loop.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libwebsockets.h>
#include <mbedtls/version.h>
#include <sqlite3.h>

#include "core/jsonv.h"
#include "core/status.h"
#include "daemon/app.h"
#include "daemon/cli.h"
#include "daemon/config.h"
#include "daemon/daily.h"
#include "daemon/hq.h"
#include "daemon/hqsync.h"
#include "daemon/kioskd.h"
#include "daemon/log.h"
#include "daemon/messages.h"
#include "daemon/net.h"
#include "daemon/server.h"
#include "daemon/sync.h"
#include "handlers/bot.h"
#include "handlers/handlers.h"
#include "store/store.h"

#define KIOSKD_VERSION "0.1.0"

struct cmd {
    const char *name;
    const char *args;
    const char *summary;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct cmd *find_cmd(const char *name);

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

static int print_cmd_help(const char *name)
{
    const struct cmd *c = find_cmd(name);
    printf("usage: kioskd %s %s\n\n%s\n\n%s", c->name, c->args, c->summary, c->help);
    printf("\nEvery command takes -c FILE (INI configuration); every key can also be set\n"
           "as KIOSKD_SECTION_KEY in the environment (see docs/config.md).\n");
    return 0;
}

/* Parses -c FILE out of argv (keeping the other arguments in order) and loads
 * the configuration. Returns 0 or 2 after printing the error. */
static int load_config(struct config *cfg, int *argc, char **argv)
{
    const char *path = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "kioskd: -c needs a file name\n");
                return 2;
            }
            path = argv[++i];
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    char err[512];
    if (config_load(cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: configuration error: %s\n", err);
        config_free(cfg);
        return 2;
    }
    return 0;
}

/* --- serve --- */

static struct kioskd *signal_target;

static void on_signal(int sig)
{
    struct kioskd *k = signal_target;
    if (!k)
        return;
    if (sig == SIGHUP)
        k->hup_signal = 1;
    else
        k->stop_signal = 1;
    if (k->lws)
        lws_cancel_service(k->lws);
}

static void install_signals(struct kioskd *k)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    signal_target = k;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Test hook, never a setting: KIOSKD_TEST_FAULT="job=K,stmt=N,rc=full|ioerr|nomem|busy
 * [,rollback=1]" arms store_fault_job once at start (see docs/architecture.md).
 * Only whoever starts the process can set it. Returns 0, or -1 on a bad spec. */
static int test_fault_arm(struct store *s, const char *spec)
{
    static const struct {
        const char *name;
        int rc;
    } codes[] = {{"full", SQLITE_FULL},
                 {"ioerr", SQLITE_IOERR},
                 {"nomem", SQLITE_NOMEM},
                 {"busy", SQLITE_BUSY}};
    long job = 0, stmt = 0, rollback = 0;
    int rc = 0;
    const char *p = spec;
    while (*p) {
        size_t klen = strcspn(p, "=");
        if (p[klen] != '=')
            return -1;
        const char *v = p + klen + 1;
        size_t vlen = strcspn(v, ",");
        if (klen == 2 && strncmp(p, "rc", 2) == 0) {
            for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
                if (strlen(codes[i].name) == vlen && strncmp(v, codes[i].name, vlen) == 0)
                    rc = codes[i].rc;
        } else {
            char *end;
            long n = strtol(v, &end, 10);
            if (end != v + vlen || n < 0 || n > 1000000)
                return -1;
            if (klen == 3 && strncmp(p, "job", 3) == 0)
                job = n;
            else if (klen == 4 && strncmp(p, "stmt", 4) == 0)
                stmt = n;
            else if (klen == 8 && strncmp(p, "rollback", 8) == 0)
                rollback = n;
            else
                return -1;
        }
        p = v + vlen + (v[vlen] == ',');
    }
    if (job < 1 || stmt < 1 || rc == 0)
        return -1;
    store_fault_job(s, (int)job, (int)stmt, rc, rollback != 0);
    log_warn("test_fault_armed", "job=%ld stmt=%ld rc=%d rollback=%ld", job, stmt, rc, rollback);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    struct kioskd *k = calloc(1, sizeof *k);
    int demo = 0, rc = 1;
    char err[512];
    if (!k) {
        fprintf(stderr, "kioskd: out of memory\n");
        return 1;
    }
    if (load_config(&k->cfg, &argc, argv) != 0) {
        free(k);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--demo") == 0) {
            demo = 1;
        } else {
            fprintf(stderr, "kioskd serve: unknown argument '%s' (see kioskd serve --help)\n",
                    argv[i]);
            config_free(&k->cfg);
            free(k);
            return 2;
        }
    }
    if (config_check_tls("http", k->cfg.http_cert, k->cfg.http_key, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: configuration error: %s\n", err);
        config_free(&k->cfg);
        free(k);
        return 2;
    }
    if (demo)
        demo_configure(&k->cfg);
    if (log_open(k->cfg.log_file, k->cfg.log_level) != 0) {
        fprintf(stderr, "kioskd: cannot open log file %s\n", k->cfg.log_file);
        goto out;
    }
    /* libcurl's global set-up (OpenSSL's with it) waits for the net thread's
     * first transfer (net.c): a branch that never calls out never pays it. */
    if (app_open(k, true, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: %s\n", err);
        goto out;
    }
    if (messages_load(k, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: templates: %s\n", err);
        goto out;
    }
    const char *fault = getenv("KIOSKD_TEST_FAULT");
    if (fault && test_fault_arm(k->store, fault) != 0) {
        fprintf(stderr, "kioskd: KIOSKD_TEST_FAULT: expected job=K,stmt=N,rc=full|ioerr|nomem|busy"
                        "[,rollback=1]\n");
        goto out;
    }
    /* Test hook, never a setting: KIOSKD_TEST_CLOCK=SECONDS shifts the time the
     * store's jobs and the messenger see (the points expiry of a later year, the
     * end of a rate's minute or of the gap between WeChat token refreshes after a
     * restart); logged when set. */
    const char *clock_shift = getenv("KIOSKD_TEST_CLOCK");
    if (clock_shift) {
        char *end;
        long long shift = strtoll(clock_shift, &end, 10);
        if (end == clock_shift || *end) {
            fprintf(stderr, "kioskd: KIOSKD_TEST_CLOCK: expected a number of seconds\n");
            goto out;
        }
        store_clock_shift(k->store, (int64_t)shift * 1000000);
        k->test_clock = (int64_t)shift;
        log_info("test_clock_shifted", "seconds=%lld", shift);
    }
    if (router_init(&k->router, route_tables) != 0 || metrics_init(&k->metrics, k->router.n) != 0) {
        fprintf(stderr, "kioskd: out of memory\n");
        goto out;
    }
    k->metrics.started_us = now_us();
    if (k->cfg.http_rate_limit > 0) {
        k->ratelimit =
            ratelimit_new((uint32_t)k->cfg.http_rate_limit, (uint32_t)k->cfg.http_rate_burst, 4096);
        if (!k->ratelimit) {
            fprintf(stderr, "kioskd: out of memory\n");
            goto out;
        }
    }
    k->signup_rl = ratelimit_new_per_minute((uint32_t)k->cfg.kiosk_signups_per_minute, 4096);
    k->login_addr_rl = ratelimit_new_per_minute((uint32_t)k->cfg.staff_login_per_minute, 1024);
    k->login_id_rl = ratelimit_new_per_minute((uint32_t)k->cfg.staff_login_id_per_minute, 1024);
    k->bot_rl = ratelimit_new_per_minute((uint32_t)k->cfg.bot_per_minute, 4096);
    if (!k->signup_rl || !k->login_addr_rl || !k->login_id_rl || !k->bot_rl) {
        fprintf(stderr, "kioskd: out of memory\n");
        goto out;
    }
    install_signals(k);
    if (server_start(k, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: %s\n", err);
        goto out;
    }
    const char *scheme = k->cfg.http_cert[0] ? "https" : "http";
    log_info("listening", "addr=%s port=%d tls=%s schema=%d version=%s", k->cfg.http_host, k->port,
             k->cfg.http_cert[0] ? "on" : "off", store_schema_version(), KIOSKD_VERSION);
    if (demo && demo_prepare(k, scheme) != 0) {
        fprintf(stderr, "kioskd: cannot create the demo data\n");
        goto out;
    }
    if ((messages_on(k) || hqsync_enabled(k)) &&
        !(k->net = net_start(1024, server_wake, k, err, sizeof err))) {
        fprintf(stderr, "kioskd: %s\n", err);
        goto out;
    }
    if (messages_start(k, err, sizeof err) != 0 || hqsync_start(k, err, sizeof err) != 0 ||
        campaigns_start(k, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: %s\n", err);
        goto out;
    }
    daily_start(k);
    server_run(k);
    rc = 0;
out:
    daily_stop(k);
    hqsync_stop(k);
    messages_stop(k);
    net_stop(k->net); /* cancels what is in flight: a sync round ends, the outbox stays */
    net_complete(k->net);
    app_stop(k);
    server_stop(k);
    hqsync_free(k); /* its read connection closes first: the store's last one removes the WAL */
    campaigns_free(k);
    app_close(k);
    messages_free(k);
    net_free(k->net);
    k->net = NULL;
    curl_global_cleanup();
    if (rc == 0)
        log_info("stopped", NULL);
    signal_target = NULL;
    ratelimit_free(k->ratelimit);
    ratelimit_free(k->signup_rl);
    ratelimit_free(k->bot_rl);
    bot_cache_free(k);
    ratelimit_free(k->login_addr_rl);
    ratelimit_free(k->login_id_rl);
    metrics_free(&k->metrics);
    router_free(&k->router);
    config_free(&k->cfg);
    log_close();
    free(k);
    return rc;
}

/* --- hq: the reference HQ server (daemon/hq.c, handlers/hq.c) --- */

static int hq_serve(struct kioskd *k)
{
    char err[512];
    int rc = 1;
    /* the same server as `serve`, on [hqserver]'s address and certificate */
    snprintf(k->cfg.http_host, sizeof k->cfg.http_host, "%s", k->cfg.hqserver_host);
    k->cfg.http_port = k->cfg.hqserver_port;
    char *swap = k->cfg.http_cert;
    k->cfg.http_cert = k->cfg.hqserver_cert;
    k->cfg.hqserver_cert = swap;
    swap = k->cfg.http_key;
    k->cfg.http_key = k->cfg.hqserver_key;
    k->cfg.hqserver_key = swap;
    if (config_check_tls("hqserver", k->cfg.http_cert, k->cfg.http_key, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd hq: configuration error: %s\n", err);
        return 2;
    }
    if (log_open(k->cfg.log_file, k->cfg.log_level) != 0) {
        fprintf(stderr, "kioskd: cannot open log file %s\n", k->cfg.log_file);
        return 1;
    }
    if (hq_open(k, true, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd hq: %s\n", err);
        goto out;
    }
    /* the chat bot answers from HQ's data; the loop's random source seals
     * WeChat's safe-mode replies */
    k->bot = &bot_hq;
    k->bot_rl = ratelimit_new_per_minute((uint32_t)k->cfg.bot_per_minute, 4096);
    k->wx_key_rc = wx_key_load(&k->wx_key, k->cfg.wechat_encoding_aes_key,
                               strlen(k->cfg.wechat_encoding_aes_key));
    if (rng_init(&k->rng) != 0) {
        fprintf(stderr, "kioskd hq: cannot seed the random generator\n");
        goto out;
    }
    if (!k->bot_rl || router_init(&k->router, hq_route_tables) != 0 ||
        metrics_init(&k->metrics, k->router.n)) {
        fprintf(stderr, "kioskd: out of memory\n");
        goto out;
    }
    k->metrics.started_us = now_us();
    install_signals(k);
    if (server_start(k, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd hq: %s\n", err);
        goto out;
    }
    log_info("listening", "role=hq addr=%s port=%d tls=%s version=%s", k->cfg.http_host, k->port,
             k->cfg.http_cert[0] ? "on" : "off", KIOSKD_VERSION);
    server_run(k);
    rc = 0;
out:
    if (k->store)
        store_stop(k->store);
    if (k->store)
        store_complete(k->store);
    server_stop(k);
    hq_close(k);
    ratelimit_free(k->bot_rl);
    k->bot_rl = NULL;
    wx_key_wipe(&k->wx_key);
    k->wx_key_rc = KIOSKD_EINVAL;
    rng_free(&k->rng);
    if (rc == 0)
        log_info("stopped", NULL);
    signal_target = NULL;
    metrics_free(&k->metrics);
    router_free(&k->router);
    log_close();
    return rc;
}

static int cli_hq(struct kioskd *k, int argc, char **argv)
{
    if (argc == 1)
        return hq_serve(k);
    return hq_cli(k, argc, argv);
}

/* --- check-config --- */

static int cmd_check_config(int argc, char **argv)
{
    struct config cfg;
    if (argc > 1 && strcmp(argv[1], "--doc") == 0) {
        config_doc(stdout);
        return 0;
    }
    if (load_config(&cfg, &argc, argv) != 0)
        return 2;
    if (argc > 1) {
        fprintf(stderr, "kioskd check-config: unknown argument '%s'\n", argv[1]);
        config_free(&cfg);
        return 2;
    }
    char err[512];
    if (config_check_tls("http", cfg.http_cert, cfg.http_key, err, sizeof err) != 0 ||
        config_check_tls("hqserver", cfg.hqserver_cert, cfg.hqserver_key, err, sizeof err) != 0) {
        fprintf(stderr, "kioskd: configuration error: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    config_dump(&cfg, stdout);
    fprintf(stderr, "kioskd: configuration is valid\n");
    config_free(&cfg);
    return 0;
}

/* --- backup --- */

static int cmd_backup(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    if (load_config(&cfg, &argc, argv) != 0)
        return 2;
    if (argc != 2) {
        fprintf(stderr, "usage: kioskd backup FILE\n");
        config_free(&cfg);
        return 2;
    }
    int rc = store_backup(cfg.store_path, argv[1], err, sizeof err);
    if (rc)
        fprintf(stderr, "kioskd backup: %s\n", err);
    else
        fprintf(stderr,
                "kioskd: backed up %s to %s. Keep [store] key_file (%s) safe as well: without it "
                "the personal data in the backup cannot be read.\n",
                cfg.store_path, argv[1], cfg.store_key_file);
    config_free(&cfg);
    return rc ? 1 : 0;
}

/* Runs a command-line tool with the configuration loaded. */
static int with_config(int argc, char **argv, int (*fn)(struct kioskd *, int, char **))
{
    struct kioskd *k = calloc(1, sizeof *k);
    if (!k) {
        fprintf(stderr, "kioskd: out of memory\n");
        return 1;
    }
    int rc = load_config(&k->cfg, &argc, argv);
    if (rc == 0) {
        rc = fn(k, argc, argv);
        config_free(&k->cfg);
    }
    free(k);
    return rc;
}

static int cmd_keygen(int argc, char **argv)
{
    return with_config(argc, argv, cli_keygen);
}

static int cmd_staff(int argc, char **argv)
{
    return with_config(argc, argv, cli_staff);
}

static int cmd_import(int argc, char **argv)
{
    return with_config(argc, argv, cli_import);
}

static int cmd_check(int argc, char **argv)
{
    return with_config(argc, argv, cli_check);
}

static int cmd_routes(int argc, char **argv)
{
    return with_config(argc, argv, cli_routes);
}

static int cmd_render(int argc, char **argv)
{
    return with_config(argc, argv, cli_render);
}

static int cmd_sync(int argc, char **argv)
{
    return with_config(argc, argv, cli_sync);
}

static int cmd_hq(int argc, char **argv)
{
    return with_config(argc, argv, cli_hq);
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char tls[32];
    mbedtls_version_get_string_full(tls);
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    printf("kioskd %s (schema %d)\n", KIOSKD_VERSION, store_schema_version());
    /* the libraries it runs with, as they report themselves at run time */
    printf("sqlite %s\n%s\nlibwebsockets %s\nlibcurl %s\n", sqlite3_libversion(), tls,
           lws_get_library_version(), cv ? cv->version : "?");
    return 0;
}

static const struct cmd cmds[] = {
    {"serve", "[-c FILE] [--demo]", "Run the daemon (the default command).", cmd_serve,
     "  --demo   create a demo branch on first start (the default paths move under\n"
     "           ./var/demo/; messages on the log channel, no HQ sync) and print the\n"
     "           URLs, the demo logins and a chat-bot curl line\n\n"
     "SIGTERM or SIGINT: stop accepting, finish requests in flight, exit 0.\n"
     "SIGHUP: reopen the log file.\n"},
    {"check-config", "[-c FILE]", "Validate the configuration, print it and exit.",
     cmd_check_config,
     "Exits 0 when valid, 2 with the file, line and key of the first error otherwise.\n"},
    {"backup", "[-c FILE] FILE", "Copy the database to FILE with SQLite's online backup.",
     cmd_backup, "Safe while the daemon runs. The key file is not part of the copy.\n"},
    {"import", "[-c FILE] events|members|products|maturities FILE.csv",
     "Import events, members, products or maturities from a CSV file.", cmd_import,
     "Events CSV: UTF-8 with the header title,kind,starts_at,ends_at,venue,capacity\n"
     "(times in RFC 3339, e.g. 2026-12-01T14:00:00+08:00; kind upgrade, salon or community).\n"
     "Members CSV: member_no,name,phone,aum,birthday,household[,last_txn] (aum in CNY, at\n"
     "most 2 decimals; dates YYYY-MM-DD; household optional); re-import updates by member_no.\n"
     "Products CSV: code,name,coefficient (the conversion coefficient 折算系数, e.g. 1, 0.5\n"
     "or 1.25: at most 3 decimals, at most 100); re-import updates by code, and a changed\n"
     "coefficient applies to new points only.\n"
     "Maturities CSV: member_no,product,amount,matures_on (amount in CNY, at most 2\n"
     "decimals; the member must exist); a maturity is (member, product, date): re-import\n"
     "replaces its amount. The maturity reminders come from these rows.\n"
     "A bad row is reported with its line number and nothing is imported.\n"},
    {"staff", "[-c FILE] add ID --name NAME --role staff|manager|admin | unlock ID",
     "Add a staff account, or lift its login locks.", cmd_staff,
     "add: the PIN (4 to 32 characters) is read from stdin when stdin is not a terminal;\n"
     "otherwise it is asked for twice without echo.\n"
     "unlock: forgets the id's wrong PINs and lifts its locks at every address and the\n"
     "global one ([staff] lock_after, lock_global); audited as staff_unlock. Safe while\n"
     "the daemon runs.\n"},
    {"keygen", "[-c FILE] [--public]",
     "Create the ticket signing key if missing; print its public key.", cmd_keygen,
     "The key goes to [tickets] key_file (mode 0600). An existing key is never replaced.\n"
     "--public prints only the public key PEM (to register this daemon with HQ).\n"},
    {"check", "[-c FILE]",
     "Recompute every counter and points balance from its rows and print each difference.",
     cmd_check,
     "Reads the database only; safe while the daemon runs. One line per difference\n"
     "(e.g. `event 3 confirmed: stored 5, rows 4`, `member 7 balance: stored 57, rows 50`,\n"
     "`points_line 9 lot_left: stored 50, rows -10` for a lot drawn below zero), then\n"
     "`check: N differences`.\n"
     "Exits 0 when there is none, 1 when there is one, 2 when the database cannot be read.\n"},
    {"check-ledger", "[-c FILE]", "The same as check (counters and the points ledger).", cmd_check,
     "See kioskd check --help.\n"},
    {"routes", "", "Print the HTTP routes: METHOD PATTERN ROLE, one per line.", cmd_routes,
     "ROLE is the least role a route needs: none (no login), staff, manager or admin.\n"},
    {"render", "[-c FILE] TEMPLATE_FILE DATA_JSON_FILE [--partials DIR]",
     "Render a Mustache template with JSON data and print the result.", cmd_render,
     "The engine of the reminders (docs/templates.md). A partial {{> NAME}} is read from\n"
     "DIR/NAME.mustache; a missing one renders as nothing (with a warning), a name with\n"
     "'/' or '..' is refused. A template error prints FILE:LINE:COLUMN: message, bad\n"
     "JSON prints DATA_JSON_FILE:LINE:COLUMN: message; both exit 1. Bad arguments exit 2.\n"},
    {"sync", "[-c FILE] --once", "Run one sync round with HQ and say what it did.", cmd_sync,
     "Pushes the outbox to [hq] url in batches of [hq] batch (gzip with [hq] gzip = on) until\n"
     "HQ has all of it, then pulls HQ's changes (members, products) page by page and applies\n"
     "each page in one transaction. Every request is signed with [hq] device and secret;\n"
     "HTTPS certificates are verified (a private CA: [hq] ca_file). Safe while the daemon\n"
     "runs. Exits 0 when both steps succeeded, 1 when one failed (said on stderr), 2 when\n"
     "[hq] is not set.\n"},
    {"hq",
     "[-c FILE] [device add ID [--area NAME] | import members|products|events|balances "
     "FILE.csv | import templates DIR_OR_FILE | export signups | signup EVENT NAME PHONE | "
     "bind-code MEMBER_NO]",
     "Run the reference HQ server, or manage its devices and data.", cmd_hq,
     "With no arguments: serve the HQ sync protocol (POST /sync/v1/push, GET /sync/v1/pull),\n"
     "GET /hq/v1/devices and the page /hq (Bearer [hqserver] admin_token), /metrics and\n"
     "/healthz on [hqserver] listen, with HQ's own database [hqserver] database and key\n"
     "[hqserver] key_file (docs/sync.md). SIGTERM or SIGINT: finish requests, exit 0.\n"
     "It also serves the chat bot from HQ's data: /wechat ([wechat] token...) and POST\n"
     "/api/v1/bot/messages ([bot] secret), as a branch does (docs/wechat.md, \"The bot at HQ\").\n"
     "device add ID: registers a branch daemon and prints its new secret as the only line\n"
     "of output (set it as that branch's [hq] secret; HQ keeps it sealed). --area NAME puts\n"
     "it in an area: it pulls the events of the other branches of its area.\n"
     "import members|products|events|balances FILE.csv: loads data the branches then pull\n"
     "(the CSV columns of `kioskd import`; events also have `branch`, the device id of the\n"
     "branch where it takes place, and may have `status`, open or cancelled: a cancelled\n"
     "event is cancelled at the branches too; balances have member_no,id,points,reason,at, points\n"
     "earned at HQ that the branches add to their ledgers once by id); a bad row is\n"
     "reported with its line and nothing changes.\n"
     "import templates DIR_OR_FILE: message templates (KIND.CHANNEL.mustache, the format of\n"
     "[messages] templates) that replace the branches' own; each branch checks them as at\n"
     "its start and keeps its own template when one is refused (logged).\n"
     "export signups: prints as CSV, for the bank's CRM, every sign-up and walk-in the\n"
     "branches pushed, with the guest's name and phone (unsealed with HQ's key; keep the\n"
     "output as safe as HQ's database); its last column, event_key, is HQ's key of the event.\n"
     "signup EVENT NAME PHONE: takes a sign-up at HQ as HQ's chat bot does, for HQ IT to\n"
     "try the flow: prints its ticket (signed with [hqserver] ticket_key_file), which the\n"
     "branch holding the event checks in offline once it has synced. EVENT is DEVICE/ID:\n"
     "the branch where the event takes place and its id there (an event imported at HQ\n"
     "has its id once that branch has pulled it and synced again), or HQ's key of an event\n"
     "it imported (export signups' event_key), also before its branch has linked it.\n"
     "bind-code MEMBER_NO: prints a one-time code (valid 10 minutes) with which the member\n"
     "binds a chat identity at HQ's bot (绑定 PHONE CODE), as a branch's staff give one.\n"
     "Safe while the server runs.\n"},
    {"version", "", "Print the version.", cmd_version, ""},
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static const struct cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: kioskd [COMMAND] [-c FILE] [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(out, "  %-14s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out,
            "\n`kioskd COMMAND --help` describes one command. With no command, kioskd serves.\n");
}

int main(int argc, char **argv)
{
    /* A fixed threshold keeps large, short-lived blocks (argon2id's 19 MiB per
     * PIN check) in their own mappings, returned to the system when freed;
     * glibc would otherwise raise the threshold and keep them on the heap. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    jv_setup(); /* before any thread: jansson's allocator notes failures */
    /* the database, its WAL and shm, backups, logs and folders are the daemon's alone */
    umask(077);
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return 0;
        }
        if (argc >= 2 && strcmp(argv[1], "--version") == 0)
            return cmd_version(argc, argv);
        if (wants_help(argc, argv))
            return print_cmd_help("serve");
        return cmd_serve(argc, argv);
    }
    const struct cmd *c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "kioskd: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (wants_help(argc - 1, argv + 1))
        return print_cmd_help(c->name);
    return c->fn(argc - 1, argv + 1);
}
