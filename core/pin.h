/*
 * Staff PINs: hashed with argon2id (libargon2) for storage, checked against
 * the stored hash. Slow on purpose (tens of milliseconds): call from a worker
 * thread or the command line, never from the event loop.
 */
#ifndef KIOSKD_PIN_H
#define KIOSKD_PIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rng.h"

#define PIN_HASH_MAX 160
#define PIN_MIN_LEN 4
#define PIN_MAX_LEN 32

/* Returns true when pin is 4 to 32 printable ASCII characters. */
bool pin_acceptable(const char *pin);
/* Hashes pin into out (an argon2id encoded string). 0 or KIOSKD_ECRYPTO. */
int pin_hash(struct rng *rng, const char *pin, char *out, size_t n);
/* Returns true when pin matches the encoded hash. */
bool pin_verify(const char *encoded, const char *pin);
/* A valid hash of a random PIN, for spending the same time on unknown staff ids. */
extern const char pin_dummy_hash[];

#endif
