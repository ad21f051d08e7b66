/*
 * Products and their conversion coefficients (折算系数): the import job
 * (one transaction, all or nothing) and the list the tablet's upgrade form
 * reads. A coefficient changed by a re-import applies to new ledger lines
 * only: every new_business line records the coefficient it used.
 */
#ifndef KIOSKD_STORE_PRODUCTS_H
#define KIOSKD_STORE_PRODUCTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define PRODUCT_CODE_MAX 32
#define PRODUCT_NAME_MAX 100 /* characters */

/* One product as the import writes it and the list reads it. */
struct store_product {
    char code[PRODUCT_CODE_MAX + 1];
    char name[PRODUCT_NAME_MAX * 4 + 1];
    int64_t coef_milli; /* the coefficient in thousandths (1.25 -> 1250) */
};

/* The source of the import's rows, called on the writer thread inside the
 * job: fills p and returns 1, returns 0 at the end, or a negative KIOSKD_E*
 * code (the source keeps its own message) to roll the whole import back. */
typedef int (*product_source_fn)(void *arg, struct store_product *p);

/* Inserts or updates (by code) every product next() gives, all in one
 * transaction. One audit line (products_import). */
struct store_products_import {
    struct store_job job;
    product_source_fn next;
    void *arg;
    struct store_actor by;
    /* out */
    int64_t added, updated;
};
void store_products_import_init(struct store_products_import *j);

/* Reads up to max products, by code, into a new array (caller frees).
 * Returns 0 or a KIOSKD_E* code. Loop only. */
int store_products_list(struct store *s, size_t max, struct store_product **out, size_t *n);

#endif
