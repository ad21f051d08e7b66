/*
 * Reading a branch's push body on the HQ side: the shape of
 * {"device","entries":[{"id","seq","kind","at","data"}],"key"?} before any of
 * it is stored. Pure: no I/O. Built on jansson.
 */
#ifndef KIOSKD_HQPUSH_H
#define KIOSKD_HQPUSH_H

#include <jansson.h>
#include <stddef.h>

/* Parses body (len bytes, duplicate keys refused) and checks its shape:
 * device equal to signer, every entry well formed, key absent or
 * {"kid" (8 base64url characters), "public_pem" (a PEM public key)}.
 * Returns the document (the caller frees it) or NULL with *why saying what
 * is wrong (a static string). */
json_t *hqpush_parse(const char *body, size_t len, const char *signer, const char **why);

#endif
