/*
 * kioskd import members FILE.csv: the rows (daemon/csvrows.c) are pulled by
 * the store's writer inside one job as it inserts them, so a bad row rolls the
 * whole import back and memory stays one row, whatever the file's size.
 */
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mask.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/validate.h"
#include "daemon/cli.h"
#include "daemon/csvrows.h"
#include "handlers/common.h"
#include "store/members.h"

enum col { C_NO, C_NAME, C_PHONE, C_AUM, C_BIRTHDAY, C_HOUSEHOLD, C_LAST_TXN, C_COUNT };
static const char *const col_names[C_COUNT] = {"member_no", "name",      "phone",   "aum",
                                               "birthday",  "household", "last_txn"};
static const struct csvrows_spec members_csv = {
    .names = col_names,
    .ncols = C_COUNT,
    .optional = 1u << C_LAST_TXN,
    .expected = "member_no,name,phone,aum,birthday,household[,last_txn]",
    .field_max = 256,
};

struct importer {
    struct kioskd *k;
    struct tier_lines lines;
    struct csvrows rows;
};

static const char *col(struct importer *im, enum col c)
{
    return csvrows_col(&im->rows, c);
}

static int row_fail(struct importer *im, const char *field, const char *why)
{
    return csvrows_fail(&im->rows, field, why);
}

/* The writer's row source: the next member, checked and sealed. */
static int next_member(void *arg, struct store_member *m)
{
    struct importer *im = arg;
    struct kioskd *k = im->k;
    int rc = csvrows_next(&im->rows);
    if (rc <= 0)
        return rc;
    memset(m, 0, sizeof *m);
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
    return import_member_seal_with(&k->pii, &k->rng, lines, f, m);
}

int import_member_seal_with(struct pii *pii, struct rng *rng, const struct tier_lines *lines,
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
    pii_hash(pii, f->phone, strlen(f->phone), m->who.phone_hash);
    int rc = pii_seal(pii, rng, "phone", f->phone, strlen(f->phone), m->who.phone_enc,
                      sizeof m->who.phone_enc, &m->who.phone_enc_len) ||
             pii_seal(pii, rng, "name", f->name, strlen(f->name), m->who.name_enc,
                      sizeof m->who.name_enc, &m->who.name_enc_len) ||
             pii_seal(pii, rng, "aum", aum, (size_t)alen, m->aum_enc, sizeof m->aum_enc,
                      &m->aum_enc_len);
    mask_name(f->name, m->who.name_mask, sizeof m->who.name_mask);
    memcpy(m->who.phone_last4, f->phone + 7, 4);
    m->who.phone_last4[4] = '\0';
    mbedtls_platform_zeroize(aum, sizeof aum);
    return rc ? KIOSKD_ECRYPTO : 0;
}

int cli_import_members(struct kioskd *k, const char *path)
{
    struct importer *im = calloc(1, sizeof *im);
    if (!im) {
        fprintf(stderr, "kioskd import: out of memory\n");
        return 1;
    }
    im->k = k;
    im->lines = (struct tier_lines){.potential = k->cfg.tiers_potential * 100,
                                    .midhigh = k->cfg.tiers_midhigh * 100,
                                    .private_line = k->cfg.tiers_private * 100};
    struct store_members_import j;
    store_members_import_init(&j);
    j.next = next_member;
    j.arg = im;
    store_actor_set(&j.by, NULL, "import");
    int status = csvrows_import(
        k, &im->rows, &members_csv, path,
        &(struct csvrows_import){
            .what = "members", .job = &j.job, .added = &j.added, .updated = &j.updated});
    mbedtls_platform_zeroize(im, sizeof *im);
    free(im);
    return status;
}
