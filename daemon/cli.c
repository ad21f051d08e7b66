/*
 * Command-line tools beside the daemon: keygen, staff add, import, check,
 * routes. They open the database shared (a running daemon may be using it)
 * and run their changes through the same store jobs as the HTTP handlers;
 * check only reads.
 */
#include "daemon/cli.h"

#include <errno.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/jsonv.h"
#include "core/pin.h"
#include "core/status.h"
#include "daemon/app.h"
#include "daemon/keys.h"
#include "handlers/handlers.h"
#include "store/check.h"
#include "store/events.h"
#include "store/staff.h"

#define IMPORT_MAX_BYTES (64 * 1024 * 1024)

int cli_keygen(struct kioskd *k, int argc, char **argv)
{
    struct ticket_key key;
    char err[512], pem[1024];
    int public_only = argc > 1 && strcmp(argv[1], "--public") == 0;
    memset(&key, 0, sizeof key);
    if (rng_init(&k->rng) != 0) {
        fprintf(stderr, "kioskd keygen: cannot seed the random generator\n");
        return 1;
    }
    int existed =
        keyfile_ticket_key(k->cfg.tickets_key_file, &k->rng, 0, &key, err, sizeof err) == 0;
    int rc = existed
                 ? 0
                 : keyfile_ticket_key(k->cfg.tickets_key_file, &k->rng, 1, &key, err, sizeof err);
    rng_free(&k->rng);
    if (rc) {
        fprintf(stderr, "kioskd keygen: %s\n", err);
        return 1;
    }
    if (ticket_key_write_pem(&key, 0, pem, sizeof pem) == 0) {
        if (!public_only)
            printf("kid %s (%s %s)\n", key.kid, existed ? "existing key in" : "new key written to",
                   k->cfg.tickets_key_file);
        fputs(pem, stdout);
    }
    ticket_key_free(&key);
    return 0;
}

/* Reads a PIN: from stdin when it is not a terminal, else asks twice without echo. */
static int read_pin(char *out, size_t n)
{
    if (!isatty(STDIN_FILENO)) {
        if (!fgets(out, (int)n, stdin))
            return -1;
        out[strcspn(out, "\r\n")] = '\0';
        return 0;
    }
    struct termios old, quiet;
    char again[64];
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fprintf(stderr, "PIN: ");
    int ok = fgets(out, (int)n, stdin) != NULL;
    fprintf(stderr, "\nPIN again: ");
    ok = ok && fgets(again, sizeof again, stdin) != NULL;
    fprintf(stderr, "\n");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    again[strcspn(again, "\r\n")] = '\0';
    ok = strcmp(out, again) == 0;
    mbedtls_platform_zeroize(again, sizeof again);
    if (!ok)
        fprintf(stderr, "kioskd staff add: the PINs differ\n");
    return ok ? 0 : -1;
}

/* kioskd staff unlock ID: lifts the id's locks at every address (audited). */
static int staff_unlock(struct kioskd *k, int argc, char **argv)
{
    char err[512];
    if (argc != 3) {
        fprintf(stderr, "usage: kioskd staff unlock ID\n");
        return 2;
    }
    const char *id = argv[2];
    if (strlen(id) == 0 || strlen(id) > 32) {
        fprintf(stderr, "kioskd staff unlock: ID must be 1 to 32 characters\n");
        return 2;
    }
    int rc = app_open(k, false, err, sizeof err);
    struct store_staff_unlock j;
    memset(&j, 0, sizeof j);
    if (rc == 0) {
        store_staff_unlock_init(&j);
        snprintf(j.target, sizeof j.target, "%s", id);
        snprintf(j.by.device, sizeof j.by.device, "cli");
        rc = store_run(k->store, &j.job);
        snprintf(err, sizeof err, "%s",
                 rc == KIOSKD_EREFUSED && j.job.why == WHY_STAFF_NOT_FOUND
                     ? "no such staff id, and nothing is counted against it"
                     : kioskd_strerror(rc));
    }
    app_close(k);
    if (rc) {
        fprintf(stderr, "kioskd staff unlock: %s\n", err);
        return 1;
    }
    fprintf(stderr, "kioskd: staff %s unlocked (%d lock and failure record%s cleared)\n", id,
            j.cleared, j.cleared == 1 ? "" : "s");
    return 0;
}

int cli_staff(struct kioskd *k, int argc, char **argv)
{
    const char *id = NULL, *name = NULL, *role = "staff";
    char err[512], pin[64];
    if (argc >= 2 && strcmp(argv[1], "unlock") == 0)
        return staff_unlock(k, argc, argv);
    if (argc < 3 || strcmp(argv[1], "add") != 0) {
        fprintf(stderr, "usage: kioskd staff add ID --name NAME --role staff|manager|admin\n"
                        "       kioskd staff unlock ID\n");
        return 2;
    }
    id = argv[2];
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else {
            fprintf(stderr, "kioskd staff add: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (strlen(id) == 0 || strlen(id) > 32 ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
            strlen(id)) {
        fprintf(stderr, "kioskd staff add: ID must be 1 to 32 letters, digits, '-', '_' or '.'\n");
        return 2;
    }
    if (!name || !*name || strlen(name) > 64) {
        fprintf(stderr, "kioskd staff add: --name NAME (1 to 64 bytes) is required\n");
        return 2;
    }
    if (strcmp(role, "staff") && strcmp(role, "manager") && strcmp(role, "admin")) {
        fprintf(stderr, "kioskd staff add: --role must be staff, manager or admin\n");
        return 2;
    }
    if (read_pin(pin, sizeof pin) != 0 || !pin_acceptable(pin)) {
        fprintf(stderr, "kioskd staff add: a PIN of 4 to 32 printable characters is needed "
                        "(on stdin, or typed when asked)\n");
        mbedtls_platform_zeroize(pin, sizeof pin);
        return 2;
    }
    int rc = app_open(k, false, err, sizeof err);
    struct store_staff_add j;
    memset(&j, 0, sizeof j);
    if (rc == 0) {
        store_staff_add_init(&j);
        snprintf(j.staff.id, sizeof j.staff.id, "%s", id);
        snprintf(j.staff.name, sizeof j.staff.name, "%s", name);
        snprintf(j.staff.role, sizeof j.staff.role, "%s", role);
        rc = pin_hash(&k->rng, pin, j.staff.pin_hash, sizeof j.staff.pin_hash);
        if (rc == 0)
            rc = store_run(k->store, &j.job);
        snprintf(err, sizeof err, "%s",
                 rc == KIOSKD_EREFUSED && j.job.why == WHY_STAFF_EXISTS
                     ? "that staff id exists already"
                     : kioskd_strerror(rc));
    }
    mbedtls_platform_zeroize(pin, sizeof pin);
    mbedtls_platform_zeroize(&j, sizeof j);
    app_close(k);
    if (rc) {
        fprintf(stderr, "kioskd staff add: %s\n", err);
        return 1;
    }
    fprintf(stderr, "kioskd: staff %s added with role %s\n", id, role);
    return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, IMPORT_MAX_BYTES);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (rc || bad) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == KIOSKD_ETOOBIG ? "larger than 64 MiB" : "cannot be read");
        buf_free(&b);
        return NULL;
    }
    if (!b.data && buf_append(&b, "", 0) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return buf_steal(&b, len);
}

static const char *const event_columns[] = {"title",   "kind",  "starts_at",
                                            "ends_at", "venue", "capacity"};

/* Reads events CSV data into evs (all rows valid) or reports the first bad row. */
static int parse_events(struct kioskd *k, const char *data, size_t len, struct store_event **out,
                        size_t *nout, char *err, size_t errlen)
{
    struct csv c;
    struct csv_row row;
    int col[6], header_n;
    size_t n = 0, cap = 0;
    struct store_event *evs = NULL;
    int rc;
    csvmem_init(&c, data, len);
    rc = csvmem_next(&c, &row);
    if (rc != 1) {
        snprintf(err, errlen, "line 1: %s",
                 rc == 0 ? "the file is empty; a header row is expected" : c.error);
        goto fail;
    }
    header_n = row.n;
    for (int i = 0; i < 6; i++) {
        col[i] = -1;
        for (int j = 0; j < row.n; j++)
            if (strcmp(row.field[j], event_columns[i]) == 0)
                col[i] = j;
        if (col[i] < 0) {
            snprintf(err, errlen, "line 1: the header has no column '%s' (expected %s)",
                     event_columns[i], "title,kind,starts_at,ends_at,venue,capacity");
            goto fail;
        }
    }
    while ((rc = csvmem_next(&c, &row)) == 1) {
        if (row.n != header_n) {
            snprintf(err, errlen, "line %d: expected %d fields as in the header, found %d",
                     row.line, header_n, row.n);
            goto fail;
        }
        json_t *obj = json_object();
        for (int i = 0; i < 6 && obj; i++) {
            const char *v = col[i] < row.n ? row.field[col[i]] : "";
            if (i == 5) {
                char *end;
                long long cap_v = strtoll(v, &end, 10);
                json_object_set_new(obj, "capacity",
                                    *v && !*end ? json_integer(cap_v) : json_string(v));
            } else {
                json_object_set_new(obj, event_columns[i], json_string(v));
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct store_event *grown = realloc(evs, cap * sizeof *evs);
            if (!grown) {
                json_decref(obj);
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            evs = grown;
        }
        struct jv v = {.root = obj};
        if (!obj || event_fields(k, &v, &evs[n]) != 0) {
            const char *key = "?", *msg = "is not valid";
            if (v.fields) {
                void *it = json_object_iter(v.fields);
                key = json_object_iter_key(it);
                msg = json_string_value(json_object_iter_value(it));
            }
            snprintf(err, errlen, "line %d: %s %s", row.line, key, msg);
            jv_free(&v);
            goto fail;
        }
        jv_free(&v);
        n++;
    }
    if (rc < 0) {
        snprintf(err, errlen, "line %d: %s", row.line, c.error);
        goto fail;
    }
    csvmem_free(&c);
    *out = evs;
    *nout = n;
    return 0;
fail:
    csvmem_free(&c);
    free(evs);
    return KIOSKD_EINVAL;
}

int cli_import(struct kioskd *k, int argc, char **argv)
{
    char err[512];
    size_t len, n = 0;
    struct store_event *evs = NULL;
    if (argc != 3) {
        fprintf(stderr, "usage: kioskd import events|members|products|maturities FILE.csv\n");
        return 2;
    }
    if (strcmp(argv[1], "members") == 0)
        return cli_import_members(k, argv[2]);
    if (strcmp(argv[1], "products") == 0)
        return cli_import_products(k, argv[2]);
    if (strcmp(argv[1], "maturities") == 0)
        return cli_import_maturities(k, argv[2]);
    if (strcmp(argv[1], "events") != 0) {
        fprintf(stderr,
                "kioskd import: '%s' cannot be imported (events, members, products, maturities)\n",
                argv[1]);
        return 2;
    }
    char *data = read_file(argv[2], &len, err, sizeof err);
    if (!data) {
        fprintf(stderr, "kioskd import: %s\n", err);
        return 1;
    }
    int rc = parse_events(k, data, len, &evs, &n, err, sizeof err);
    free(data);
    if (rc) {
        fprintf(stderr, "kioskd import: %s: %s; nothing was imported\n", argv[2], err);
        return 1;
    }
    rc = app_open(k, false, err, sizeof err);
    if (rc == 0 && n > 0) {
        struct store_events_create j;
        memset(&j, 0, sizeof j);
        store_events_create_init(&j);
        j.evs = evs;
        j.n = n;
        store_actor_set(&j.by, NULL, "import");
        rc = store_run(k->store, &j.job);
        snprintf(err, sizeof err, "%s", kioskd_strerror(rc));
    }
    app_close(k);
    if (rc) {
        fprintf(stderr, "kioskd import: %s; nothing was imported\n", err);
        free(evs);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("event %lld: %s\n", (long long)evs[i].id, evs[i].title);
    fprintf(stderr, "kioskd: imported %zu events\n", n);
    free(evs);
    return 0;
}

static const char *role_name(enum role r)
{
    switch (r) {
    case ROLE_NONE:
        return "none";
    case ROLE_STAFF:
        return "staff";
    case ROLE_MANAGER:
        return "manager";
    case ROLE_ADMIN:
        return "admin";
    }
    return "?";
}

int cli_routes(struct kioskd *k, int argc, char **argv)
{
    (void)k;
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: kioskd routes\n");
        return 2;
    }
    for (const struct route *const *t = route_tables; *t; t++)
        for (const struct route *r = *t; r->pattern; r++)
            printf("%s %s %s\n", http_method_name(r->method), r->pattern, role_name(r->role));
    return 0;
}

static void print_diff(void *arg, const struct store_check_diff *d)
{
    (void)arg;
    printf("%s %lld %s: stored %lld, rows %lld\n", d->subject, (long long)d->id, d->counter,
           (long long)d->stored, (long long)d->rows);
}

int cli_check(struct kioskd *k, int argc, char **argv)
{
    char err[512];
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: kioskd check\n");
        return 2;
    }
    struct store_opts so = {
        .path = k->cfg.store_path,
        .busy_timeout_ms = (int)k->cfg.store_busy_timeout,
        .read_only = true,
        .shared = true,
    };
    struct store *s = NULL;
    int rc = store_open(&s, &so, err, sizeof err);
    if (rc == 0) {
        rc = store_check(s, print_diff, NULL);
        if (rc < 0)
            snprintf(err, sizeof err, "%s: %s", k->cfg.store_path, kioskd_strerror(rc));
    }
    store_close(s);
    if (rc < 0) {
        fprintf(stderr, "kioskd check: %s\n", err);
        return 2;
    }
    printf("check: %d difference%s\n", rc, rc == 1 ? "" : "s");
    return rc ? 1 : 0;
}
