/*
 * libFuzzer target: the parts of a campaign body with their own parsers: a
 * step's "at" (campaign_at_parse), an invitation code (campaign_code_ok)
 * and the festival list (campaign_festivals_parse). What they accept must
 * keep the documented bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t off = 1;
    const char *why = NULL;
    if (campaign_at_parse(s, &off, &why) == 0)
        CHECK(off <= 0 && off >= -(int64_t)CAMPAIGN_AT_LIMIT && strlen(s) <= CAMPAIGN_AT_MAX);
    else
        CHECK(why != NULL);
    if (campaign_code_ok(s))
        CHECK(strlen(s) == CAMPAIGN_CODE_LEN);
    unsigned mask = 0;
    const char *bad = NULL;
    if (campaign_festivals_parse(s, &mask, &bad) == 0)
        CHECK(mask < (1u << CAMPAIGN_FESTIVALS));
    else
        CHECK(bad != NULL && bad >= s && bad <= s + strlen(s));
    if (size >= 10)
        (void)campaign_festival_on(s, mask);
    free(s);
    return 0;
}
