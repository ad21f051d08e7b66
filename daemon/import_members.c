/*
 * kioskd import members FILE.csv: streams the file through libcsv, one
 * physical line at a time (so every row knows its line), inside one store job:
 * the writer pulls rows as it inserts them, and a bad row rolls the whole
 * import back. Memory stays one row, whatever the file's size.
 */
#include <csv.h>
#include <errno.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mask.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/validate.h"
#include "daemon/app.h"
#include "daemon/cli.h"
#include "handlers/common.h"
#include "store/members.h"

#define LINE_MAX_BYTES 65536
#define FIELD_MAX 256

enum col { C_NO, C_NAME, C_PHONE, C_AUM, C_BIRTHDAY, C_HOUSEHOLD, C_LAST_TXN, C_COUNT };
static const char *const col_names[C_COUNT] = {"member_no", "name",      "phone",   "aum",
                                               "birthday",  "household", "last_txn"};

struct importer {
    struct kioskd *k;
    struct tier_lines lines;
    const char *path;
    FILE *f;
    struct csv_parser p;
    char *line;
    size_t line_cap;
    long line_no, row_line; /* the line being fed; the line the current row started on */
    /* the row being gathered */
    char field[C_COUNT + 1][FIELD_MAX + 1];
    int nfields;
    bool too_long, row_ready, header_done;
    int col_of[C_COUNT]; /* header position of each column; -1: absent */
    int header_n;
    char err[512];
};

static void on_field(void *s, size_t len, void *data)
{
    struct importer *im = data;
    if (im->nfields <= C_COUNT) {
        if (len > FIELD_MAX)
            im->too_long = true;
        else {
            memcpy(im->field[im->nfields], s, len);
            im->field[im->nfields][len] = '\0';
        }
    }
    im->nfields++;
}

static void on_row(int c, void *data)
{
    (void)c;
    ((struct importer *)data)->row_ready = true;
}

/* Feeds lines until a row is complete: 1, 0 at the end, or KIOSKD_EINVAL/EIO. */
static int next_raw_row(struct importer *im)
{
    im->nfields = 0;
    im->too_long = false;
    im->row_ready = false;
    im->row_line = im->line_no + 1;
    while (!im->row_ready) {
        ssize_t n = getline(&im->line, &im->line_cap, im->f);
        if (n < 0) {
            if (ferror(im->f)) {
                snprintf(im->err, sizeof im->err, "%s: cannot be read", im->path);
                return KIOSKD_EIO;
            }
            if (csv_fini(&im->p, on_field, on_row, im) != 0) {
                snprintf(im->err, sizeof im->err, "%s:%ld: a quoted field is never closed",
                         im->path, im->row_line);
                return KIOSKD_EINVAL;
            }
            return im->row_ready ? 1 : 0;
        }
        im->line_no++;
        if (n > LINE_MAX_BYTES) {
            snprintf(im->err, sizeof im->err, "%s:%ld: the line is longer than %d bytes", im->path,
                     im->line_no, LINE_MAX_BYTES);
            return KIOSKD_EINVAL;
        }
        if (csv_parse(&im->p, im->line, (size_t)n, on_field, on_row, im) != (size_t)n) {
            snprintf(im->err, sizeof im->err, "%s:%ld: %s", im->path, im->line_no,
                     csv_strerror(csv_error(&im->p)));
            return KIOSKD_EINVAL;
        }
        if (im->nfields == 0 && !im->row_ready)
            im->row_line = im->line_no + 1; /* a blank line: the row starts later */
    }
    return 1;
}

static int row_fail(struct importer *im, const char *field, const char *why)
{
    snprintf(im->err, sizeof im->err, "%s:%ld: %s: %s", im->path, im->row_line, field, why);
    return KIOSKD_EINVAL;
}

static int read_header(struct importer *im)
{
    int rc = next_raw_row(im);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(im->err, sizeof im->err, "%s:1: the file is empty; a header row is expected",
                     im->path);
        return rc ? rc : KIOSKD_EINVAL;
    }
    im->header_n = im->nfields;
    for (int i = 0; i < C_COUNT; i++) {
        im->col_of[i] = -1;
        for (int j = 0; j < im->nfields && j <= C_COUNT; j++)
            if (strcmp(im->field[j], col_names[i]) == 0)
                im->col_of[i] = j;
        if (im->col_of[i] < 0 && i != C_LAST_TXN) {
            snprintf(im->err, sizeof im->err,
                     "%s:%ld: the header has no column '%s' (expected "
                     "member_no,name,phone,aum,birthday,household[,last_txn])",
                     im->path, im->row_line, col_names[i]);
            return KIOSKD_EINVAL;
        }
    }
    if (im->header_n > C_COUNT) {
        snprintf(im->err, sizeof im->err, "%s:%ld: the header has %d columns; at most %d", im->path,
                 im->row_line, im->header_n, C_COUNT);
        return KIOSKD_EINVAL;
    }
    im->header_done = true;
    return 0;
}

static const char *col(struct importer *im, enum col c)
{
    return im->col_of[c] < 0 ? "" : im->field[im->col_of[c]];
}

/* The writer's row source: the next member, checked and sealed. */
static int next_member(void *arg, struct store_member *m)
{
    struct importer *im = arg;
    struct kioskd *k = im->k;
    int rc = next_raw_row(im);
    if (rc <= 0)
        return rc;
    memset(m, 0, sizeof *m);
    if (im->nfields != im->header_n) {
        snprintf(im->err, sizeof im->err, "%s:%ld: expected %d fields as in the header, found %d",
                 im->path, im->row_line, im->header_n, im->nfields);
        return KIOSKD_EINVAL;
    }
    if (im->too_long)
        return row_fail(im, "row", "a field is longer than 256 bytes");
    const char *no = col(im, C_NO);
    size_t nlen = strlen(no);
    if (nlen == 0 || nlen > MEMBER_NO_MAX ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return row_fail(im, "member_no", "must be 1 to 32 letters, digits, '-' or '_'");
    char name[160];
    const char *why = NULL;
    if (validate_name(col(im, C_NAME), name, sizeof name, &why) != 0)
        return row_fail(im, "name", why ? why : "is not valid");
    const char *phone = col(im, C_PHONE);
    if (!validate_mobile(phone))
        return row_fail(im, "phone", "must be an 11-digit mainland mobile number");
    int64_t fen;
    if (cny_to_fen(col(im, C_AUM), &fen, &why) != 0)
        return row_fail(im, "aum", why);
    if (!validate_date(col(im, C_BIRTHDAY)))
        return row_fail(im, "birthday", "must be a date YYYY-MM-DD");
    const char *hh = col(im, C_HOUSEHOLD);
    if (strlen(hh) > 64 || utf8_count(hh) == SIZE_MAX || strpbrk(hh, "\t\r\n"))
        return row_fail(im, "household", "must be at most 64 bytes of text on one line");
    const char *lt = col(im, C_LAST_TXN);
    if (*lt && !validate_date(lt))
        return row_fail(im, "last_txn", "must be a date YYYY-MM-DD");
    rc = import_member_seal(k, &im->lines,
                            &(struct member_fields){.member_no = no,
                                                    .name = name,
                                                    .phone = phone,
                                                    .aum_fen = fen,
                                                    .birthday = col(im, C_BIRTHDAY),
                                                    .household = hh,
                                                    .last_txn = lt},
                            m);
    mbedtls_platform_zeroize(name, sizeof name);
    if (rc)
        return row_fail(im, "name", "could not be sealed");
    return 1;
}

int import_member_seal(struct kioskd *k, const struct tier_lines *lines,
                       const struct member_fields *f, struct store_member *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->member_no, sizeof m->member_no, "%s", f->member_no);
    snprintf(m->household, sizeof m->household, "%s", f->household ? f->household : "");
    snprintf(m->birthday, sizeof m->birthday, "%s", f->birthday);
    snprintf(m->last_txn, sizeof m->last_txn, "%s", f->last_txn ? f->last_txn : "");
    snprintf(m->tier, sizeof m->tier, "%s", tier_of(lines, f->aum_fen));
    char aum[24];
    int alen = snprintf(aum, sizeof aum, "%lld", (long long)f->aum_fen);
    phone_hash(k, f->phone, m->who.phone_hash);
    int rc = pii_seal(&k->pii, &k->rng, "phone", f->phone, strlen(f->phone), m->who.phone_enc,
                      sizeof m->who.phone_enc, &m->who.phone_enc_len) ||
             pii_seal(&k->pii, &k->rng, "name", f->name, strlen(f->name), m->who.name_enc,
                      sizeof m->who.name_enc, &m->who.name_enc_len) ||
             pii_seal(&k->pii, &k->rng, "aum", aum, (size_t)alen, m->aum_enc, sizeof m->aum_enc,
                      &m->aum_enc_len);
    mask_name(f->name, m->who.name_mask, sizeof m->who.name_mask);
    memcpy(m->who.phone_last4, f->phone + 7, 4);
    m->who.phone_last4[4] = '\0';
    mbedtls_platform_zeroize(aum, sizeof aum);
    return rc ? KIOSKD_ECRYPTO : 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_import_members(struct kioskd *k, const char *path)
{
    struct importer *im = calloc(1, sizeof *im);
    char err[512];
    if (!im) {
        fprintf(stderr, "kioskd import: out of memory\n");
        return 1;
    }
    int64_t t0 = mono_ms();
    im->k = k;
    im->path = path;
    im->lines = (struct tier_lines){.potential = k->cfg.tiers_potential * 100,
                                    .midhigh = k->cfg.tiers_midhigh * 100,
                                    .private_line = k->cfg.tiers_private * 100};
    im->f = fopen(path, "rb");
    if (!im->f) {
        fprintf(stderr, "kioskd import: %s: %s\n", path, strerror(errno));
        free(im);
        return 1;
    }
    int rc = csv_init(&im->p, CSV_STRICT | CSV_STRICT_FINI) == 0 ? 0 : KIOSKD_ENOMEM;
    if (rc == 0)
        rc = read_header(im);
    struct store_members_import j;
    store_members_import_init(&j);
    if (rc == 0) {
        rc = app_open(k, false, err, sizeof err);
        if (rc)
            snprintf(im->err, sizeof im->err, "%s", err);
    }
    if (rc == 0) {
        j.next = next_member;
        j.arg = im;
        store_actor_set(&j.by, NULL, "import");
        rc = store_run(k->store, &j.job);
        if (rc && !im->err[0])
            snprintf(im->err, sizeof im->err, "%s", kioskd_strerror(rc));
        app_close(k);
    }
    csv_free(&im->p);
    fclose(im->f);
    free(im->line);
    if (rc) {
        fprintf(stderr, "kioskd import: %s; nothing was imported\n",
                im->err[0] ? im->err : kioskd_strerror(rc));
        mbedtls_platform_zeroize(im, sizeof *im);
        free(im);
        return 1;
    }
    mbedtls_platform_zeroize(im, sizeof *im);
    free(im);
    int64_t ms = mono_ms() - t0;
    printf("imported %lld members (%lld new, %lld updated) in %lld.%03lld s\n",
           (long long)(j.added + j.updated), (long long)j.added, (long long)j.updated,
           (long long)(ms / 1000), (long long)(ms % 1000));
    return 0;
}
