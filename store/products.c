/* Products: the import job and the list (store/products.h). */
#include "store/products.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "store/store_int.h"

static const char SQL_PRODUCT_EXISTS[] = "SELECT 1 FROM products WHERE code = ?1";
static const char SQL_PRODUCT_UPSERT[] =
    "INSERT INTO products(code, name, coef_milli, updated_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(code) DO UPDATE SET name = excluded.name, coef_milli = excluded.coef_milli, "
    "updated_at = excluded.updated_at";
static const char SQL_PRODUCTS_LIST[] =
    "SELECT code, name, coef_milli FROM products ORDER BY code LIMIT ?1";

int product_write(struct store_tx *tx, const struct store_product *p, int64_t now, bool *added)
{
    sqlite3_stmt *st = conn_stmt(tx->c, SQL_PRODUCT_EXISTS);
    if (!st)
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, p->code, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rc(rc);
    *added = rc == SQLITE_DONE;
    if (!(st = conn_stmt(tx->c, SQL_PRODUCT_UPSERT)))
        return KIOSKD_EIO;
    sqlite3_bind_text(st, 1, p->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, p->coef_milli);
    sqlite3_bind_int64(st, 4, now);
    return store_step_done(st);
}

static int products_import_run(struct store_tx *tx, struct store_job *job)
{
    struct store_products_import *j = (struct store_products_import *)job;
    int64_t now = store_tx_now(tx) / 1000000;
    struct store_product p;
    int rc;
    j->added = j->updated = 0;
    while ((rc = j->next(j->arg, &p)) == 1) {
        bool added = false;
        if ((rc = product_write(tx, &p, now, &added)) != 0)
            break;
        if (added)
            j->added++;
        else
            j->updated++;
    }
    if (rc < 0)
        return rc;
    char subject[64];
    snprintf(subject, sizeof subject, "products:%lld+%lld", (long long)j->added,
             (long long)j->updated);
    return store_audit(tx, j->by.staff_id[0] ? j->by.staff_id : NULL,
                       j->by.device[0] ? j->by.device : NULL, "products_import", subject);
}

void store_products_import_init(struct store_products_import *j)
{
    memset(j, 0, sizeof *j);
    j->job.run = products_import_run;
}

int store_products_list(struct store *s, size_t max, struct store_product **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = conn_stmt(&s->rd, SQL_PRODUCTS_LIST);
    if (!st)
        return KIOSKD_EIO;
    struct store_product *v = calloc(max ? max : 1, sizeof *v);
    if (!v)
        return KIOSKD_ENOMEM;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    int rc = SQLITE_DONE;
    size_t i = 0;
    while (i < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_col_text(v[i].code, sizeof v[i].code, st, 0);
        store_col_text(v[i].name, sizeof v[i].name, st, 1);
        v[i].coef_milli = sqlite3_column_int64(st, 2);
        i++;
    }
    if (i == max)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return store_rc(rc);
    }
    *out = v;
    *n = i;
    return 0;
}
