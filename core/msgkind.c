/* Message kinds, channels and their template variables (core/msgkind.h). */
#include "core/msgkind.h"

#include <string.h>

#define PERSON "name tier "
#define EVENT PERSON "title time venue ticket_link short_code "

static const struct {
    const char *name;
    bool transactional;
    const char *vars;
} kinds[MSG_KINDS] = {
    [MSG_CONFIRMATION] = {"confirmation", true, EVENT "waitlisted position"},
    [MSG_DAY_BEFORE] = {"day_before", false, EVENT},
    [MSG_TWO_HOURS] = {"two_hours", false, EVENT},
    [MSG_THANK_YOU] = {"thank_you", false, PERSON "title time venue points"},
    [MSG_NO_SHOW] = {"no_show", false, PERSON "title time venue"},
    [MSG_BIRTHDAY] = {"birthday", false, PERSON "points"},
    [MSG_MATURITY] = {"maturity", false, PERSON "product amount date"},
    [MSG_POINTS] = {"points", false, PERSON "points change date"},
    [MSG_STAFF_SUMMARY] = {"staff_summary", false,
                           "title time venue date signed_up checked_in no_shows walk_ins"},
    [MSG_TICKET_LINK] = {"ticket_link", true, EVENT},
    [MSG_CHAT_REPLY] = {"chat_reply", true, "text"},
    [MSG_INVITATION] = {"invitation", false, PERSON "title time date venue link"},
    [MSG_FESTIVAL] = {"festival", false, PERSON "festival date"},
};

static const char *const channels[MSG_CHANNELS] = {"sms", "log", "wecom", "wechat"};

const char *msg_kind_name(enum msg_kind k)
{
    return (unsigned)k < MSG_KINDS ? kinds[k].name : NULL;
}

int msg_kind_from(const char *name, size_t len)
{
    for (int i = 0; i < MSG_KINDS; i++)
        if (strlen(kinds[i].name) == len && memcmp(kinds[i].name, name, len) == 0)
            return i;
    return -1;
}

const char *msg_channel_name(enum msg_channel c)
{
    return (unsigned)c < MSG_CHANNELS ? channels[c] : NULL;
}

int msg_channel_from(const char *name, size_t len)
{
    for (int i = 0; i < MSG_CHANNELS; i++)
        if (strlen(channels[i]) == len && memcmp(channels[i], name, len) == 0)
            return i;
    return -1;
}

bool msg_kind_transactional(enum msg_kind k)
{
    return (unsigned)k < MSG_KINDS && kinds[k].transactional;
}

bool msg_kind_has_var(enum msg_kind k, const char *name, size_t len)
{
    if ((unsigned)k >= MSG_KINDS)
        return false;
    const char *dot = memchr(name, '.', len);
    if (dot)
        len = (size_t)(dot - name);
    const char *p = kinds[k].vars;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, name, len) == 0)
            return true;
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

const char *msg_kind_vars(enum msg_kind k)
{
    return (unsigned)k < MSG_KINDS ? kinds[k].vars : "";
}
