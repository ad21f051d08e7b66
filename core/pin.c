/* argon2id PIN hashing. */
#include "core/pin.h"

#include <argon2.h>
#include <string.h>

#include "core/status.h"

/* OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane. */
#define PIN_T_COST 2
#define PIN_M_COST 19456
#define PIN_LANES 1

const char pin_dummy_hash[] = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
                              "Kqc0l2kGfOAwW2zZFh7lNQ2OV3z5ZJ0cUrsj8CNBdo0";

bool pin_acceptable(const char *pin)
{
    size_t n = strlen(pin);
    if (n < PIN_MIN_LEN || n > PIN_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pin[i] < 0x21 || pin[i] > 0x7e)
            return false;
    return true;
}

int pin_hash(struct rng *rng, const char *pin, char *out, size_t n)
{
    unsigned char salt[16];
    if (rng_bytes(rng, salt, sizeof salt))
        return KIOSKD_ECRYPTO;
    int rc = argon2id_hash_encoded(PIN_T_COST, PIN_M_COST, PIN_LANES, pin, strlen(pin), salt,
                                   sizeof salt, 32, out, n);
    return rc == ARGON2_OK ? 0 : KIOSKD_ECRYPTO;
}

bool pin_verify(const char *encoded, const char *pin)
{
    return argon2id_verify(encoded, pin, strlen(pin)) == ARGON2_OK;
}
