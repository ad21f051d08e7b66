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
const struct csvrows_spec import_members_csv = {
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

int import_member_row(struct csvrows *r, char *name, size_t name_cap, struct member_fields *f)
{
    int rc = csvrows_next(r);
    if (rc <= 0)
        return rc;
    memset(f, 0, sizeof *f);
    const char *no = csvrows_col(r, C_NO);
    size_t nlen = strlen(no);
    if (nlen == 0 || nlen > MEMBER_NO_MAX ||
        strspn(no, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != nlen)
        return csvrows_fail(r, "member_no", "must be 1 to 32 letters, digits, '-' or '_'");
    const char *why = NULL;
    if (validate_name(csvrows_col(r, C_NAME), name, name_cap, &why) != 0)
        return csvrows_fail(r, "name", why ? why : "is not valid");
    const char *phone = csvrows_col(r, C_PHONE);
    if (!validate_mobile(phone))
        return csvrows_fail(r, "phone", "must be an 11-digit mainland mobile number");
    if (cny_to_fen(csvrows_col(r, C_AUM), &f->aum_fen, &why) != 0)
        return csvrows_fail(r, "aum", why);
    if (!validate_date(csvrows_col(r, C_BIRTHDAY)))
        return csvrows_fail(r, "birthday", "must be a date YYYY-MM-DD");
    const char *hh = csvrows_col(r, C_HOUSEHOLD);
    if (strlen(hh) > 64 || utf8_count(hh) == SIZE_MAX || strpbrk(hh, "\t\r\n"))
        return csvrows_fail(r, "household", "must be at most 64 bytes of text on one line");
    const char *lt = csvrows_col(r, C_LAST_TXN);
    if (*lt && !validate_date(lt))
        return csvrows_fail(r, "last_txn", "must be a date YYYY-MM-DD");
    f->member_no = no;
    f->name = name;
    f->phone = phone;
    f->birthday = csvrows_col(r, C_BIRTHDAY);
    f->household = hh;
    f->last_txn = lt;
    return 1;
}

/* The writer's row source: the next member, checked and sealed. */
static int next_member(void *arg, struct store_member *m)
{
    struct importer *im = arg;
    char name[160];
    struct member_fields f;
    int rc = import_member_row(&im->rows, name, sizeof name, &f);
    if (rc <= 0)
        return rc;
    rc = import_member_seal(im->k, &im->lines, &f, m);
    mbedtls_platform_zeroize(name, sizeof name);
    if (rc)
        return csvrows_fail(&im->rows, "name", "could not be sealed");
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
        k, &im->rows, &import_members_csv, path,
        &(struct csvrows_import){
            .what = "members", .job = &j.job, .added = &j.added, .updated = &j.updated});
    mbedtls_platform_zeroize(im, sizeof *im);
    free(im);
    return status;
}
