/* Loading, checking and rendering the message templates (daemon/templates.h). */
#include "daemon/templates.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/embedded.h"
#include "core/status.h"

#define TPL_FILE_MAX (64 * 1024)
#define TPL_OUT_MAX (16 * 1024)

struct check {
    enum msg_kind kind;
    const char *file;
    unsigned line_base; /* lines before the template's first line */
    unsigned col_base;  /* columns before its first character (a header field) */
    char *err;
    size_t errlen;
};

static int check_name(void *ctx, const char *name, size_t len, unsigned depth, unsigned line,
                      unsigned column)
{
    struct check *c = ctx;
    (void)depth;
    if (msg_kind_has_var(c->kind, name, len))
        return 0;
    snprintf(c->err, c->errlen, "%s:%u:%u: '%.*s' is not a variable of %s messages (they have: %s)",
             c->file, c->line_base + line, (line == 1 ? c->col_base : 0) + column,
             (int)(len > 40 ? 40 : len), name, msg_kind_name(c->kind), msg_kind_vars(c->kind));
    return KIOSKD_EINVAL;
}

/* Compiles src[0, len) found at line_base/col_base of file and checks its names. */
static int compile(struct check *c, const char *src, size_t len, struct mustache **out)
{
    struct mustache_error me;
    int rc = mustache_parse(src, len, out, &me);
    if (rc) {
        snprintf(c->err, c->errlen, "%s:%u:%u: %s", c->file, c->line_base + me.line,
                 (me.line == 1 ? c->col_base : 0) + me.column, me.message);
        return rc;
    }
    return mustache_names(*out, check_name, c);
}

static void tpl_free(struct tpl *t)
{
    if (!t)
        return;
    mustache_free(t->body);
    for (int i = 0; i < t->nfields; i++)
        mustache_free(t->fields[i].t);
    free(t);
}

/* Code points in s[0, n). */
static unsigned chars(const char *s, size_t n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Parses one template file named name (KIND.CHANNEL.mustache). */
static int parse_file(struct templates *ts, const char *name, const char *src, size_t len,
                      char *err, size_t errlen)
{
    const char *dot1 = strchr(name, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strcmp(dot2, ".mustache") != 0) {
        snprintf(err, errlen, "%s:1:1: a template is named KIND.CHANNEL.mustache", name);
        return KIOSKD_EINVAL;
    }
    int kind = msg_kind_from(name, (size_t)(dot1 - name));
    int ch = msg_channel_from(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (kind < 0 || ch < 0 || ch == MSG_LOG) {
        snprintf(err, errlen, "%s:1:1: unknown kind or channel in the file name", name);
        return KIOSKD_EINVAL;
    }
    struct tpl *t = calloc(1, sizeof *t);
    if (!t)
        return KIOSKD_ENOMEM;
    snprintf(t->file, sizeof t->file, "%s", name);
    struct check c = {.kind = (enum msg_kind)kind, .file = t->file, .err = err, .errlen = errlen};
    int rc = 0;
    bool has_channel = false, has_kind = false, body = false;
    unsigned line = 0;
    size_t pos = 0;
    while (pos < len && !body) {
        line++;
        size_t eol = pos;
        while (eol < len && src[eol] != '\n')
            eol++;
        const char *l = src + pos;
        size_t n = eol - pos;
        if (n && l[n - 1] == '\r')
            n--;
        pos = eol < len ? eol + 1 : eol;
        if (n == 3 && memcmp(l, "---", 3) == 0) {
            body = true;
            break;
        }
        const char *colon = memchr(l, ':', n);
        if (!colon) {
            snprintf(err, errlen, "%s:%u:1: expected 'key: value' or '---'", name, line);
            rc = KIOSKD_EINVAL;
            goto out;
        }
        size_t klen = (size_t)(colon - l);
        const char *v = colon + 1;
        while (v < l + n && *v == ' ')
            v++;
        size_t vlen = (size_t)(l + n - v);
        if (klen == 7 && memcmp(l, "channel", 7) == 0) {
            has_channel = true;
            if (msg_channel_from(v, vlen) != ch) {
                snprintf(err, errlen, "%s:%u:%u: the channel must be %s, as the file name says",
                         name, line, chars(l, (size_t)(v - l)) + 1, msg_channel_name(ch));
                rc = KIOSKD_EINVAL;
                goto out;
            }
        } else if (klen == 4 && memcmp(l, "kind", 4) == 0) {
            has_kind = true;
            if (msg_kind_from(v, vlen) != kind) {
                snprintf(err, errlen, "%s:%u:%u: the kind must be %s, as the file name says", name,
                         line, chars(l, (size_t)(v - l)) + 1, msg_kind_name(kind));
                rc = KIOSKD_EINVAL;
                goto out;
            }
        } else if (klen == 11 && memcmp(l, "template_id", 11) == 0 && ch == MSG_WECHAT) {
            if (vlen == 0 || vlen >= sizeof t->template_id) {
                snprintf(err, errlen, "%s:%u:1: template_id must have 1 to %zu characters", name,
                         line, sizeof t->template_id - 1);
                rc = KIOSKD_EINVAL;
                goto out;
            }
            memcpy(t->template_id, v, vlen);
        } else if (klen > 6 && memcmp(l, "field ", 6) == 0 && ch == MSG_WECHAT) {
            size_t fl = klen - 6;
            if (t->nfields == TPL_FIELDS_MAX || fl >= sizeof t->fields[0].name) {
                snprintf(err, errlen, "%s:%u:1: at most %d fields of at most 31 bytes", name, line,
                         TPL_FIELDS_MAX);
                rc = KIOSKD_EINVAL;
                goto out;
            }
            struct tpl_field *f = &t->fields[t->nfields];
            memcpy(f->name, l + 6, fl);
            c.line_base = line - 1;
            c.col_base = chars(l, (size_t)(v - l));
            if ((rc = compile(&c, v, vlen, &f->t)) != 0) {
                mustache_free(f->t);
                goto out;
            }
            t->nfields++;
        } else {
            snprintf(err, errlen, "%s:%u:1: unknown header key '%.*s'", name, line,
                     (int)(klen > 32 ? 32 : klen), l);
            rc = KIOSKD_EINVAL;
            goto out;
        }
    }
    if (!body || !has_channel || !has_kind) {
        snprintf(err, errlen, "%s:%u:1: the header needs 'channel:' and 'kind:' lines, then '---'",
                 name, line ? line : 1);
        rc = KIOSKD_EINVAL;
        goto out;
    }
    if (ch == MSG_WECHAT && (!t->template_id[0] || t->nfields == 0)) {
        snprintf(err, errlen, "%s:1:1: a wechat template needs template_id and field lines", name);
        rc = KIOSKD_EINVAL;
        goto out;
    }
    c.line_base = line;
    c.col_base = 0;
    if ((rc = compile(&c, src + pos, len - pos, &t->body)) != 0)
        goto out;
    tpl_free(ts->t[kind][ch]);
    ts->t[kind][ch] = t;
    return 0;
out:
    tpl_free(t);
    return rc;
}

static int load_dir(struct templates *ts, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return KIOSKD_EIO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 10 || strcmp(e->d_name + n - 9, ".mustache") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            rc = KIOSKD_EIO;
            break;
        }
        char *src = malloc(TPL_FILE_MAX + 1);
        size_t len = src ? fread(src, 1, TPL_FILE_MAX + 1, f) : 0;
        fclose(f);
        if (!src)
            rc = KIOSKD_ENOMEM;
        else if (len > TPL_FILE_MAX) {
            snprintf(err, errlen, "%s:1:1: larger than %d bytes", e->d_name, TPL_FILE_MAX);
            rc = KIOSKD_ETOOBIG;
        } else
            rc = parse_file(ts, e->d_name, src, len, err, errlen);
        free(src);
    }
    closedir(d);
    return rc;
}

int templates_load(struct templates *ts, const char *dir, char *err, size_t errlen)
{
    memset(ts, 0, sizeof *ts);
    for (const struct embedded_file *f = embedded_templates; f->name; f++) {
        int rc = parse_file(ts, f->name, (const char *)f->data, f->len, err, errlen);
        if (rc)
            return rc;
    }
    if (dir && dir[0]) {
        int rc = load_dir(ts, dir, err, errlen);
        if (rc)
            return rc;
    }
    for (int k = 0; k < MSG_KINDS; k++) {
        if (k == MSG_CHAT_REPLY)
            continue; /* its text is the bot's reply */
        enum msg_channel need = k == MSG_STAFF_SUMMARY ? MSG_WECOM : MSG_SMS;
        if (!ts->t[k][need]) {
            snprintf(err, errlen, "%s.%s.mustache: missing", msg_kind_name(k),
                     msg_channel_name(need));
            return KIOSKD_EINVAL;
        }
    }
    return 0;
}

int templates_replace(struct templates *ts, const char *name, const char *src, size_t len,
                      char *err, size_t errlen)
{
    if (len > TPL_FILE_MAX) {
        snprintf(err, errlen, "%s:1:1: larger than %d bytes", name, TPL_FILE_MAX);
        return KIOSKD_ETOOBIG;
    }
    return parse_file(ts, name, src, len, err, errlen);
}

int templates_check(const char *name, const char *src, size_t len, char *err, size_t errlen)
{
    struct templates scratch;
    memset(&scratch, 0, sizeof scratch);
    int rc = templates_replace(&scratch, name, src, len, err, errlen);
    templates_free(&scratch);
    return rc;
}

const struct tpl *templates_get(const struct templates *ts, enum msg_kind k, enum msg_channel c)
{
    if ((unsigned)k >= MSG_KINDS || (unsigned)c >= MSG_CHANNELS)
        return NULL;
    if (c == MSG_LOG)
        return ts->t[k][MSG_SMS] ? ts->t[k][MSG_SMS] : ts->t[k][MSG_WECOM];
    return ts->t[k][c];
}

int tpl_render(const struct mustache *t, const void *json_data, char **out)
{
    struct buf b;
    buf_init(&b, TPL_OUT_MAX);
    struct mustache_error me;
    struct mustache_opts o = {.plain_text = true};
    int rc = mustache_render(t, json_data, &o, &b, &me);
    if (rc == 0 && !b.data)
        rc = buf_puts(&b, "");
    if (rc) {
        buf_free(&b);
        return rc;
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = '\0';
    size_t n;
    *out = buf_steal(&b, &n);
    return 0;
}

void templates_free(struct templates *ts)
{
    for (int k = 0; k < MSG_KINDS; k++)
        for (int c = 0; c < MSG_CHANNELS; c++) {
            tpl_free(ts->t[k][c]);
            ts->t[k][c] = NULL;
        }
}
