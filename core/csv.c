/* CSV reading, and the field writer of exports. */
#include "core/csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

void csvmem_init(struct csv *c, const char *data, size_t len)
{
    c->p = data;
    c->end = data + len;
    c->line = 1;
    c->error[0] = '\0';
    buf_init(&c->store, CSV_MAX_FIELDS * (CSV_MAX_FIELD + 1));
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3;
}

void csvmem_free(struct csv *c)
{
    buf_free(&c->store);
}

static int fail(struct csv *c, const char *msg)
{
    snprintf(c->error, sizeof c->error, "%s", msg);
    return KIOSKD_EMALFORMED;
}

int csvmem_next(struct csv *c, struct csv_row *row)
{
    size_t offsets[CSV_MAX_FIELDS];
    row->n = 0;
    /* skip blank lines */
    while (c->p < c->end &&
           (*c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n'))) {
        c->p += *c->p == '\r' ? 2 : 1;
        c->line++;
    }
    row->line = c->line;
    if (c->p >= c->end)
        return 0;
    buf_reset(&c->store);
    for (;;) {
        if (row->n == CSV_MAX_FIELDS)
            return fail(c, "too many fields");
        offsets[row->n] = c->store.len;
        size_t start = c->store.len;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end)
                    return fail(c, "a quoted field is not closed");
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        if (buf_append(&c->store, "\"", 1))
                            return fail(c, "field too long");
                        c->p += 2;
                        continue;
                    }
                    c->p++;
                    break;
                }
                if (*c->p == '\n')
                    c->line++;
                if (buf_append(&c->store, c->p, 1))
                    return fail(c, "field too long");
                c->p++;
            }
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                return fail(c, "text after a closing quote");
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (*c->p == '"')
                    return fail(c, "a quote inside an unquoted field");
                if (*c->p == '\0')
                    return fail(c, "a NUL byte");
                if (buf_append(&c->store, c->p, 1))
                    return fail(c, "field too long");
                c->p++;
            }
        }
        if (c->store.len - start > CSV_MAX_FIELD)
            return fail(c, "field too long");
        if (memchr(c->store.data ? c->store.data + start : "", '\0', c->store.len - start))
            return fail(c, "a NUL byte");
        if (buf_append(&c->store, "", 1))
            return fail(c, "record too long");
        row->n++;
        if (c->p >= c->end)
            break;
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p == '\r') {
            if (c->p + 1 >= c->end || c->p[1] != '\n')
                return fail(c, "a CR without LF");
            c->p++;
        }
        c->p++; /* the LF */
        c->line++;
        break;
    }
    for (int i = 0; i < row->n; i++)
        row->field[i] = c->store.data + offsets[i];
    return 1;
}

int csv_put_field(struct buf *b, const char *s)
{
    bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    int rc = quote ? buf_puts(b, "\"") : 0;
    if (!rc && formula)
        rc = buf_puts(b, "'");
    for (const char *p = s; !rc && *p; p++)
        rc = *p == '"' ? buf_puts(b, "\"\"") : buf_append(b, p, 1);
    if (!rc && quote)
        rc = buf_puts(b, "\"");
    return rc;
}
