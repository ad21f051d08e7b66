/*
 * libFuzzer target: arbitrary bytes (as a NUL-terminated copy) through
 * validate_name, validate_name_key, validate_device, validate_mobile,
 * mask_name and mask_phone, checking the promises their headers make. Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 \
 *     -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. tests/fuzz/fuzz_validate.c \
 *     core/validate.c core/mask.c core/status.c -o /tmp/fuzz_validate
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mask.h"
#include "core/status.h"
#include "core/validate.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

/* True when s is valid UTF-8 with no control or formatting character. */
static int fuzz_clean(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, len - i, &cp);
        if (!l || validate_cp_forbidden(cp))
            return 0;
        i += l;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';

    char name[VALIDATE_NAME_BUF], again[VALIDATE_NAME_BUF];
    const char *why = NULL;
    int rc = validate_name(s, name, sizeof name, &why);
    if (rc == 0) {
        size_t count = utf8_count(name);
        CHECK(why == NULL);
        CHECK(count >= 1 && count <= VALIDATE_NAME_MAX);
        CHECK(fuzz_clean(name));
        CHECK(strstr(s, name) != NULL);
        /* Idempotent: a validated name validates to itself. */
        CHECK(validate_name(name, again, sizeof again, NULL) == 0);
        CHECK(strcmp(name, again) == 0);
        /* The compare key of a name: whole UTF-8, never longer, and stable. */
        char key[VALIDATE_NAME_BUF], key2[VALIDATE_NAME_BUF];
        CHECK(validate_name_key(name, key, sizeof key) == 0);
        CHECK(strlen(key) <= strlen(name) && utf8_count(key) != SIZE_MAX);
        CHECK(validate_name_key(again, key2, sizeof key2) == 0 && strcmp(key, key2) == 0);
    } else {
        CHECK(rc == KIOSKD_EINVAL && why != NULL && name[0] == '\0');
    }

    /* A tablet's name: clean, bounded, and a fixed point. */
    char dev[VALIDATE_DEVICE_BUF], dev2[VALIDATE_DEVICE_BUF];
    why = NULL;
    rc = validate_device(s, dev, sizeof dev, &why);
    CHECK(rc == 0 || rc == KIOSKD_EINVAL || rc == KIOSKD_ETOOBIG);
    if (rc == 0) {
        CHECK(dev[0] != '\0' && fuzz_clean(dev) && strlen(dev) < sizeof dev);
        CHECK(validate_device(dev, dev2, sizeof dev2, NULL) == 0 && strcmp(dev, dev2) == 0);
    } else if (rc == KIOSKD_EINVAL) {
        CHECK(why != NULL);
    }

    /* A short buffer cuts nothing in half: ETOOBIG or a whole name. */
    char small[7];
    rc = validate_name(s, small, sizeof small, NULL);
    CHECK(rc == 0 || rc == KIOSKD_EINVAL || rc == KIOSKD_ETOOBIG);
    CHECK(rc != 0 || utf8_count(small) != SIZE_MAX);

    int mobile = validate_mobile(s);
    CHECK(!mobile || (size >= 11 && strlen(s) == 11 && s[0] == '1'));

    char masked[MASK_NAME_BUF];
    mask_name(s, masked, sizeof masked);
    size_t ml = strlen(masked);
    CHECK(fuzz_clean(masked));
    CHECK(ml == 0 || masked[ml - 1] == '*');
    CHECK(utf8_count(masked) <= 2);
    for (size_t n = 0; n <= sizeof masked; n++) {
        char cut[MASK_NAME_BUF];
        mask_name(s, cut, n);
        CHECK(n == 0 || utf8_count(cut) != SIZE_MAX);
    }

    char phone[64];
    mask_phone(s, phone, sizeof phone);
    size_t pl = strlen(phone), shown = 0;
    for (size_t i = 0; i < pl; i++) {
        CHECK(phone[i] == '*' || (phone[i] >= '0' && phone[i] <= '9'));
        shown += phone[i] != '*';
    }
    /* At most 7 digits of an 11-digit number, at most 2 of anything else. */
    CHECK(shown <= (strlen(s) == 11 ? 7u : 2u));
    CHECK(!mobile || (pl == 11 && memcmp(phone + 3, "****", 4) == 0));
    mask_phone(s, phone, 1);
    CHECK(phone[0] == '\0');

    free(s);
    return 0;
}
