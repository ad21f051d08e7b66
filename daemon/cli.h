/* Command-line tools: keygen, staff add, import, check, routes. Each returns the exit code. */
#ifndef KIOSKD_CLI_H
#define KIOSKD_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/kioskd.h"

int cli_keygen(struct kioskd *k, int argc, char **argv);
int cli_staff(struct kioskd *k, int argc, char **argv);
int cli_import(struct kioskd *k, int argc, char **argv);
/* kioskd import members FILE.csv (daemon/import_members.c). */
int cli_import_members(struct kioskd *k, const char *path);
struct tier_lines;
struct store_member;
/* A member's fields, checked already (household and last_txn may be NULL). */
struct member_fields {
    const char *member_no, *name, *phone;
    int64_t aum_fen;
    const char *birthday, *household, *last_txn;
};
/* Fills m as the members import writes it: name, phone and AUM sealed with
 * the personal-data key, the phone's keyed hash, the masks and the tier.
 * Returns 0 or KIOSKD_ECRYPTO. */
int import_member_seal(struct kioskd *k, const struct tier_lines *lines,
                       const struct member_fields *f, struct store_member *m);

/* Each import's columns, and its row check: reads r's next row and checks it
 * (no database, no keys), filling the fields; 1, 0 at the end, or a KIOSKD_E*
 * code with r->err naming the line and field. The members row's name is the
 * validated copy written into name (name_cap bytes; 160 holds any); its other
 * fields point into r's row, valid until the next call. */
struct csvrows;
struct csvrows_spec;
struct store_product;
struct store_maturity;
extern const struct csvrows_spec import_members_csv, import_products_csv, import_maturities_csv;
int import_member_row(struct csvrows *r, char *name, size_t name_cap, struct member_fields *f);
int import_product_row(struct csvrows *r, struct store_product *p);
int import_maturity_row(struct csvrows *r, struct store_maturity *m);

/* The same with the keys and random source of the calling thread (a worker's:
 * core/pii.h, one thread at a time). */
int import_member_seal_with(struct pii *pii, struct rng *rng, const struct tier_lines *lines,
                            const struct member_fields *f, struct store_member *m);
/* kioskd import products FILE.csv (daemon/import_products.c). */
int cli_import_products(struct kioskd *k, const char *path);
/* kioskd import maturities FILE.csv: member_no,product,amount,matures_on
 * (daemon/import_maturities.c). Returns the exit status. */
int cli_import_maturities(struct kioskd *k, const char *path);
/* Recomputes the stored counters from their rows (read-only) and prints each
 * difference; 0 when there is none, 1 when there is one, 2 on error. */
int cli_check(struct kioskd *k, int argc, char **argv);
/* Prints every route row: METHOD PATTERN ROLE (none, staff, manager, admin). */
int cli_routes(struct kioskd *k, int argc, char **argv);
/* kioskd render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR] (daemon/render.c):
 * 0 when printed, 1 on a bad file, 2 on bad arguments. */
int cli_render(struct kioskd *k, int argc, char **argv);

#endif
