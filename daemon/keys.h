/*
 * Key files: the file side of the daemon's secrets (DESIGN.md section 3).
 * A key file is a regular file of mode 0600 owned by the daemon's user (or
 * root); one that group or others may read or write is refused, after OpenBSD
 * httpd's check_file_secrecy. Files are created once and never overwritten.
 *
 * Every function fills err (when errlen > 0) with one English sentence naming
 * the file, for the caller to log; it logs nothing itself. Buffers that held
 * key material are wiped before returning.
 */
#ifndef KIOSKD_KEYS_H
#define KIOSKD_KEYS_H

#include <stddef.h>

#include "core/rng.h"
#include "core/ticket.h"

/*
 * Reads the whole key file at path into buf[0..cap) and sets *len. Returns 0,
 * KIOSKD_ENOTFOUND (no such file), KIOSKD_EFORBIDDEN (not a regular file,
 * group or others have any access, or owned by another user), KIOSKD_ETOOBIG
 * (larger than cap) or KIOSKD_EIO. buf is wiped on failure; the caller wipes
 * it after use.
 */
int keyfile_read(const char *path, unsigned char *buf, size_t cap, size_t *len, char *err,
                 size_t errlen);

/*
 * Creates path holding data[0..len), mode 0600, creating missing parent
 * folders with mode 0700; writes and fsyncs the file and its folder. Never
 * overwrites: returns KIOSKD_ECONFLICT if path exists. Returns 0,
 * KIOSKD_ECONFLICT or KIOSKD_EIO; a partly written file is removed.
 */
int keyfile_create(const char *path, const void *data, size_t len, char *err, size_t errlen);

/*
 * Loads the PII master key (64 hex characters and an optional newline) from
 * path into out, first creating the file with 32 fresh random bytes if it does
 * not exist. Returns 0, KIOSKD_EMALFORMED (not 64 hex characters), an error of
 * keyfile_read or keyfile_create, or KIOSKD_ECRYPTO. The caller wipes out.
 */
int keyfile_pii_master(const char *path, struct rng *rng, unsigned char out[32], char *err,
                       size_t errlen);

/*
 * Loads the ticket signing key (a private key PEM) from path into k. When the
 * file does not exist: creates a new key there if create is non-zero, else
 * returns KIOSKD_ENOTFOUND. Returns 0, KIOSKD_ENOTFOUND, KIOSKD_EMALFORMED
 * (not a private P-256 key PEM), KIOSKD_EINVAL, or an error of keyfile_read or
 * keyfile_create. On success the caller frees k with ticket_key_free; on
 * failure k is left zeroed.
 */
int keyfile_ticket_key(const char *path, struct rng *rng, int create, struct ticket_key *k,
                       char *err, size_t errlen);

#endif
