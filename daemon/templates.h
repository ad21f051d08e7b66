/*
 * The message templates (templates/KIND.CHANNEL.mustache, embedded in the
 * binary; a file of the same name in [messages] templates replaces one, and
 * one pulled from HQ replaces both: docs/sync.md): read, checked and compiled
 * at start, then read on the loop only; a template pulled from HQ replaces
 * one there, between two renderings.
 *
 * A file is a header of `key: value` lines, a line `---`, and the body:
 *   channel: sms|wecom|wechat         must match the file name
 *   kind: KIND                        must match the file name
 *   template_id: ID                   wechat: the template message's id
 *   field NAME: MUSTACHE              wechat: one data field of the message
 * Every name a body or field uses must be a variable its kind provides
 * (core/msgkind.h); a template that uses another is refused with its file,
 * line and column, and the daemon does not start.
 */
#ifndef KIOSKD_TEMPLATES_H
#define KIOSKD_TEMPLATES_H

#include <stddef.h>

#include "core/msgkind.h"
#include "core/mustache.h"

#define TPL_FIELDS_MAX 8

struct tpl_field {
    char name[32];
    struct mustache *t;
};

struct tpl {
    char file[64];
    struct mustache *body;
    char template_id[64];
    struct tpl_field fields[TPL_FIELDS_MAX];
    int nfields;
};

struct templates {
    struct tpl *t[MSG_KINDS][MSG_CHANNELS];
};

/* Loads the embedded templates, then those in dir (NULL or "": none).
 * Returns 0, or KIOSKD_EMALFORMED / KIOSKD_EINVAL / KIOSKD_EIO with
 * "FILE:LINE:COLUMN: message" in err. templates_free undoes either way. */
int templates_load(struct templates *ts, const char *dir, char *err, size_t errlen);
/* Replaces the template of name (KIND.CHANNEL.mustache) with src, checked
 * exactly as templates_load checks a file; on an error (err as above) the
 * template in use stays. Pulled from HQ (docs/sync.md). */
int templates_replace(struct templates *ts, const char *name, const char *src, size_t len,
                      char *err, size_t errlen);
/* Checks src as templates_replace would, changing nothing. */
int templates_check(const char *name, const char *src, size_t len, char *err, size_t errlen);
/* The template of kind for channel, or NULL when there is none (the log
 * channel uses the sms template). */
const struct tpl *templates_get(const struct templates *ts, enum msg_kind k, enum msg_channel c);
/* Renders t as plain text ({{name}} is not HTML-escaped) with data into out (a new string, trailing
 * newlines removed; caller frees). Returns 0 or a KIOSKD_E* code. */
int tpl_render(const struct mustache *t, const void *json_data, char **out);
/* Frees every template; accepts a zeroed struct. */
void templates_free(struct templates *ts);

#endif
