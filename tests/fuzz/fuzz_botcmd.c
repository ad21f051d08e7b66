/*
 * libFuzzer target: arbitrary bytes through bot_parse (the chat bot's command
 * reader), checking what its header promises: a known kind, a bind phone of
 * 11 digits or nothing, a code of 6 digits or nothing, an event number only
 * for a sign-up, and the same answer twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/botcmd.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static int digits(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bot_cmd a, b;
    bot_parse((const char *)data, size, &a);
    bot_parse((const char *)data, size, &b);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK(a.kind >= BOT_UNKNOWN && a.kind <= BOT_OPTIN);
    CHECK(a.phone[0] == '\0' || digits(a.phone, 11));
    CHECK(a.code[0] == '\0' || digits(a.code, 6));
    CHECK(a.kind == BOT_BIND || (a.phone[0] == '\0' && a.code[0] == '\0'));
    CHECK(a.event_id >= 0 && (a.kind == BOT_SIGNUP || a.event_id == 0));
    CHECK(strcmp(bot_cmd_name(a.kind), "unknown") != 0 || a.kind == BOT_UNKNOWN);
    return 0;
}
