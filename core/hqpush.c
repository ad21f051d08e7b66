/* The shape of a push body as HQ reads it (core/hqpush.h). */
#include "core/hqpush.h"

#include <string.h>

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* Checks one entry of a push; returns NULL or what is wrong. */
static const char *entry_problem(json_t *e)
{
    json_t *id = json_object_get(e, "id"), *seq = json_object_get(e, "seq");
    json_t *kind = json_object_get(e, "kind"), *at = json_object_get(e, "at");
    if (!json_is_object(e))
        return "an entry is not an object";
    if (!json_is_string(id) || json_string_length(id) != 36)
        return "an entry's id is not a UUID";
    if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        return "an entry's seq is not a positive integer";
    if (!json_is_string(kind) || json_string_length(kind) == 0 || json_string_length(kind) > 64)
        return "an entry's kind is not a short string";
    if (!json_is_string(at) || json_string_length(at) == 0 || json_string_length(at) > 64)
        return "an entry's at is not a time";
    if (!json_is_object(json_object_get(e, "data")))
        return "an entry's data is not an object";
    return NULL;
}

static const char *key_problem(json_t *key)
{
    const char *kid = json_string_value(json_object_get(key, "kid"));
    const char *pem = json_string_value(json_object_get(key, "public_pem"));
    if (!key)
        return NULL;
    if (!kid || strlen(kid) != 8 || strspn(kid, B64URL) != 8 || !pem || strlen(pem) > 400 ||
        strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) != 0)
        return "key is not {\"kid\",\"public_pem\"} of a ticket key";
    return NULL;
}

json_t *hqpush_parse(const char *body, size_t len, const char *signer, const char **why)
{
    json_error_t err;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    json_t *entries = json_object_get(doc, "entries"), *e;
    const char *device = json_string_value(json_object_get(doc, "device"));
    size_t i;
    *why = NULL;
    if (!json_is_object(doc))
        *why = "the body is not a JSON object";
    else if (!device || strcmp(device, signer) != 0)
        *why = "device is not the device that signed the request";
    else if (!json_is_array(entries))
        *why = "entries is not an array";
    else {
        json_array_foreach(entries, i, e)
        {
            if ((*why = entry_problem(e)) != NULL)
                break;
        }
        if (!*why)
            *why = key_problem(json_object_get(doc, "key"));
    }
    if (*why) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
