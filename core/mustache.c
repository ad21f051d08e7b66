/*
 * The Mustache parser and renderer (see mustache.h for what is supported).
 *
 * A compiled template is a copy of the source plus a flat array of nodes:
 * text runs point into the source, names are pre-split into their dotted
 * parts, and a section node records where its body ends, so rendering walks
 * the array without parsing anything again. The standalone-line rules are
 * settled while parsing (the whitespace and newline of a standalone line are
 * left out of the text nodes); a standalone partial keeps its indentation,
 * which the renderer puts before every line of the partial's own text.
 *
 * Invariants of a compiled template:
 *  1. every node's text and name parts lie inside src;
 *  2. a section or inverted node at i has i < end <= nnodes, and the nodes
 *     i+1 .. end-1 are its body (properly nested);
 *  3. nothing changes after mustache_parse returns, so renders may share it.
 */
#include "core/mustache.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

enum node_kind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

struct part {
    uint32_t off, len; /* in src */
};

struct node {
    uint8_t kind;
    uint32_t off, len;    /* text: the run; others: the whole name, for messages and partials */
    uint32_t part, npart; /* the dotted parts in parts[]; nparts 0 is the implicit iterator */
    uint32_t end;         /* section, inverted: index after the body */
    uint32_t at;          /* offset of the tag in src, for render errors */
    uint32_t ind_off, ind_len; /* partial: the indentation of a standalone tag */
};

struct mustache {
    char *src;
    size_t len;
    struct node *nodes;
    uint32_t nnodes, capnodes;
    struct part *parts;
    uint32_t nparts, capparts;
};

/* --- errors --- */

/* Line and column (in code points) of offset off in src. */
static void locate(const char *src, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static void set_error(struct mustache_error *err, const char *src, size_t off, bool placed,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_error(struct mustache_error *err, const char *src, size_t off, bool placed,
                      const char *fmt, ...)
{
    if (!err)
        return;
    err->line = err->column = 0;
    err->tpl = NULL;
    if (placed)
        locate(src, off, &err->line, &err->column);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* A name quoted for a message: at most 40 bytes of it. */
#define QNAME(len) (int)((len) > 40 ? 40 : (len))

/* --- parsing --- */

static int add_node(struct mustache *t, const struct node *n)
{
    if (t->nnodes == t->capnodes) {
        uint32_t cap = t->capnodes ? t->capnodes * 2 : 16;
        struct node *p = realloc(t->nodes, cap * sizeof *p);
        if (!p)
            return KIOSKD_ENOMEM;
        t->nodes = p;
        t->capnodes = cap;
    }
    t->nodes[t->nnodes++] = *n;
    return 0;
}

static int add_part(struct mustache *t, uint32_t off, uint32_t len)
{
    if (t->nparts == t->capparts) {
        uint32_t cap = t->capparts ? t->capparts * 2 : 16;
        struct part *p = realloc(t->parts, cap * sizeof *p);
        if (!p)
            return KIOSKD_ENOMEM;
        t->parts = p;
        t->capparts = cap;
    }
    t->parts[t->nparts].off = off;
    t->parts[t->nparts].len = len;
    t->nparts++;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Finds needle (nlen > 0 bytes) in s[from, len); returns its offset or len. */
static size_t find(const char *s, size_t from, size_t len, const char *needle, size_t nlen)
{
    while (from < len && len - from >= nlen) {
        const char *p = memchr(s + from, needle[0], len - from - nlen + 1);
        if (!p)
            break;
        size_t at = (size_t)(p - s);
        if (memcmp(p, needle, nlen) == 0)
            return at;
        from = at + 1;
    }
    return len;
}

struct parser {
    struct mustache *t;
    const char *s;
    size_t len;
    char otag[MUSTACHE_MAX_DELIM], ctag[MUSTACHE_MAX_DELIM];
    size_t olen, clen;
    uint32_t open[MUSTACHE_MAX_NESTING]; /* node index of each open section */
    unsigned depth;
    struct mustache_error *err;
};

/* Checks name s[off, off+len) and splits it into node's parts. A name is "."
 * or dot-separated parts of printable non-space bytes (a partial's name is one
 * part). */
static int set_name(struct parser *p, struct node *n, size_t off, size_t len, size_t tag_at)
{
    n->off = (uint32_t)off;
    n->len = (uint32_t)len;
    n->part = p->t->nparts;
    n->npart = 0;
    if (len == 0) {
        set_error(p->err, p->s, tag_at, true, "empty tag name");
        return KIOSKD_EMALFORMED;
    }
    if (len == 1 && p->s[off] == '.')
        return 0;
    bool dotted = n->kind != N_PARTIAL; /* a partial's name is one string, dots and all */
    size_t start = off;
    for (size_t i = off; i <= off + len; i++) {
        if (i < off + len) {
            unsigned char c = (unsigned char)p->s[i];
            if (c <= ' ' || c == 0x7f) {
                set_error(p->err, p->s, tag_at, true,
                          "tag name '%.*s' has a space or control "
                          "character",
                          QNAME(len), p->s + off);
                return KIOSKD_EMALFORMED;
            }
            if (c != '.' || !dotted)
                continue;
        }
        if (i == start) {
            set_error(p->err, p->s, tag_at, true, "tag name '%.*s' has an empty part", QNAME(len),
                      p->s + off);
            return KIOSKD_EMALFORMED;
        }
        int rc = add_part(p->t, (uint32_t)start, (uint32_t)(i - start));
        if (rc)
            return rc;
        n->npart++;
        start = i + 1;
    }
    return 0;
}

/* {{=<% %>=}}: body is the text between the two '='. */
static int set_delims(struct parser *p, size_t off, size_t len, size_t tag_at)
{
    const char *b = p->s + off, *e = b + len;
    while (b < e && is_space(*b))
        b++;
    while (e > b && is_space(e[-1]))
        e--;
    const char *o = b;
    while (b < e && !is_space(*b))
        b++;
    size_t olen = (size_t)(b - o);
    while (b < e && is_space(*b))
        b++;
    const char *c = b;
    size_t clen = (size_t)(e - c);
    bool ok = olen > 0 && clen > 0 && olen <= MUSTACHE_MAX_DELIM && clen <= MUSTACHE_MAX_DELIM &&
              !memchr(o, '=', olen) && !memchr(c, '=', clen);
    for (size_t i = 0; ok && i < clen; i++)
        ok = !is_space(c[i]);
    if (!ok) {
        set_error(p->err, p->s, tag_at, true,
                  "bad delimiter change: expected two delimiters of 1 to %d bytes without "
                  "spaces or '='",
                  MUSTACHE_MAX_DELIM);
        return KIOSKD_EMALFORMED;
    }
    memcpy(p->otag, o, olen);
    p->olen = olen;
    memcpy(p->ctag, c, clen);
    p->clen = clen;
    return 0;
}

static int add_text(struct parser *p, size_t from, size_t to)
{
    if (to <= from)
        return 0;
    struct node n = {.kind = N_TEXT, .off = (uint32_t)from, .len = (uint32_t)(to - from)};
    return add_node(p->t, &n);
}

static int parse(struct parser *p)
{
    const char *s = p->s;
    size_t len = p->len, pos = 0, text = 0;
    int rc;
    for (;;) {
        size_t at = find(s, pos, len, p->otag, p->olen);
        if (at == len)
            break;
        size_t q = at + p->olen;
        while (q < len && is_blank(s[q]))
            q++;
        char sigil = q < len ? s[q] : '\0';
        struct node n = {.at = (uint32_t)at};
        bool standalone_ok = true;
        switch (sigil) {
        case '#':
            n.kind = N_SECTION;
            break;
        case '^':
            n.kind = N_INVERTED;
            break;
        case '/':
        case '!':
        case '=':
            n.kind = N_TEXT; /* no node of its own */
            break;
        case '>':
            n.kind = N_PARTIAL;
            break;
        case '&':
        case '{':
            n.kind = N_RAW;
            standalone_ok = false;
            break;
        case '*':
        case '<':
        case '$':
            set_error(p->err, s, at, true, "'%c' tags are not supported", sigil);
            return KIOSKD_EMALFORMED;
        default:
            n.kind = N_VAR;
            standalone_ok = false;
            sigil = '\0';
        }
        size_t body = sigil ? q + 1 : q;
        /* the tag ends at the closing delimiter, after '}' or '=' for those tags */
        char close[MUSTACHE_MAX_DELIM + 1];
        size_t close_len = 0;
        if (sigil == '{' || sigil == '=')
            close[close_len++] = sigil == '{' ? '}' : '=';
        memcpy(close + close_len, p->ctag, p->clen);
        close_len += p->clen;
        size_t body_end = find(s, body, len, close, close_len);
        if (body_end == len) {
            set_error(p->err, s, at, true, "tag is not closed: expected '%.*s'", (int)close_len,
                      close);
            return KIOSKD_EMALFORMED;
        }
        size_t end = body_end + close_len;
        size_t nb = body, ne = body_end; /* the name, trimmed */
        while (nb < ne && is_space(s[nb]))
            nb++;
        while (ne > nb && is_space(s[ne - 1]))
            ne--;

        /* standalone: only blanks before the tag on its line and after it up to the line end */
        size_t text_end = at, next = end;
        if (standalone_ok) {
            size_t ls = at;
            while (ls > 0 && is_blank(s[ls - 1]))
                ls--;
            size_t le = end;
            while (le < len && is_blank(s[le]))
                le++;
            bool line_start = ls == 0 || s[ls - 1] == '\n';
            bool line_end =
                le == len || s[le] == '\n' || (s[le] == '\r' && le + 1 < len && s[le + 1] == '\n');
            if (line_start && line_end) {
                text_end = ls;
                next = le == len ? len : le + (s[le] == '\r' ? 2 : 1);
                if (n.kind == N_PARTIAL) {
                    n.ind_off = (uint32_t)ls;
                    n.ind_len = (uint32_t)(at - ls);
                }
            }
        }
        if ((rc = add_text(p, text, text_end)) != 0)
            return rc;
        text = pos = next;

        switch (sigil) {
        case '!':
            continue;
        case '=':
            if ((rc = set_delims(p, body, body_end - body, at)) != 0)
                return rc;
            continue;
        case '/': {
            if (p->depth == 0) {
                set_error(p->err, s, at, true, "closing tag '%.*s' without an open section",
                          QNAME(ne - nb), s + nb);
                return KIOSKD_EMALFORMED;
            }
            struct node *o = &p->t->nodes[p->open[p->depth - 1]];
            if (o->len != ne - nb || memcmp(s + o->off, s + nb, o->len) != 0) {
                unsigned l, c;
                locate(s, o->at, &l, &c);
                set_error(p->err, s, at, true,
                          "closing tag '%.*s' does not match '%.*s' opened at line %u, column %u",
                          QNAME(ne - nb), s + nb, QNAME(o->len), s + o->off, l, c);
                return KIOSKD_EMALFORMED;
            }
            o->end = p->t->nnodes;
            p->depth--;
            continue;
        }
        default:
            break;
        }
        if ((rc = set_name(p, &n, nb, ne - nb, at)) != 0)
            return rc;
        if (n.kind == N_PARTIAL && n.npart == 0) {
            set_error(p->err, s, at, true, "'.' is not a partial name");
            return KIOSKD_EMALFORMED;
        }
        if (n.kind == N_SECTION || n.kind == N_INVERTED) {
            if (p->depth == MUSTACHE_MAX_NESTING) {
                set_error(p->err, s, at, true, "sections nested deeper than %d",
                          MUSTACHE_MAX_NESTING);
                return KIOSKD_ETOOBIG;
            }
            p->open[p->depth++] = p->t->nnodes;
        }
        if ((rc = add_node(p->t, &n)) != 0)
            return rc;
    }
    if ((rc = add_text(p, text, len)) != 0)
        return rc;
    if (p->depth > 0) {
        const struct node *o = &p->t->nodes[p->open[p->depth - 1]];
        set_error(p->err, s, o->at, true, "section '%.*s' is not closed", QNAME(o->len),
                  s + o->off);
        return KIOSKD_EMALFORMED;
    }
    return 0;
}

int mustache_parse(const char *src, size_t len, struct mustache **out, struct mustache_error *err)
{
    *out = NULL;
    if (len > MUSTACHE_MAX_SOURCE) {
        set_error(err, src, 0, false, "template of %zu bytes is over the limit of %d", len,
                  MUSTACHE_MAX_SOURCE);
        return KIOSKD_ETOOBIG;
    }
    struct mustache *t = calloc(1, sizeof *t);
    if (!t || !(t->src = malloc(len + 1))) {
        free(t);
        set_error(err, src, 0, false, "out of memory");
        return KIOSKD_ENOMEM;
    }
    if (len)
        memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;
    struct parser p = {.t = t, .s = t->src, .len = len, .olen = 2, .clen = 2, .err = err};
    memcpy(p.otag, "{{", 2);
    memcpy(p.ctag, "}}", 2);
    int rc = parse(&p);
    if (rc) {
        if (rc == KIOSKD_ENOMEM)
            set_error(err, src, 0, false, "out of memory");
        mustache_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int mustache_names(const struct mustache *t, mustache_name_fn fn, void *ctx)
{
    uint32_t ends[MUSTACHE_MAX_NESTING + 1];
    unsigned depth = 0;
    for (uint32_t i = 0; i < t->nnodes; i++) {
        while (depth > 0 && ends[depth - 1] <= i)
            depth--;
        const struct node *n = &t->nodes[i];
        if (n->kind == N_TEXT || n->kind == N_PARTIAL)
            continue;
        if (n->npart > 0) {
            unsigned line, col;
            locate(t->src, n->at, &line, &col);
            int rc = fn(ctx, t->src + n->off, n->len, depth, line, col);
            if (rc)
                return rc;
        }
        if ((n->kind == N_SECTION || n->kind == N_INVERTED) && depth <= MUSTACHE_MAX_NESTING)
            ends[depth++] = n->end;
    }
    return 0;
}

void mustache_free(struct mustache *t)
{
    if (!t)
        return;
    free(t->src);
    free(t->nodes);
    free(t->parts);
    free(t);
}

/* --- rendering --- */

struct render {
    const struct mustache_opts *opts;
    unsigned max_depth;
    unsigned long max_steps, steps;
    struct buf *out;
    struct mustache_error *err;
    const json_t **stack; /* context stack, stack[0] the data */
    unsigned nstack;
    unsigned depth;    /* sections and partials entered */
    struct buf indent; /* the indentation of the partials being rendered */
    bool line_start;   /* the last text emitted ended a line */
};

/* A render error's line and column are in t (the template or a partial). */
static void placed_in(struct render *r, const struct mustache *t)
{
    if (r->err)
        r->err->tpl = t;
}

static int out_fail(struct render *r, int rc)
{
    if (rc == KIOSKD_ETOOBIG)
        set_error(r->err, NULL, 0, false, "output over the limit of %zu bytes", r->out->max);
    else
        set_error(r->err, NULL, 0, false, "out of memory");
    return rc;
}

static int put_indent(struct render *r)
{
    if (r->line_start && r->indent.len) {
        int rc = buf_append(r->out, r->indent.data, r->indent.len);
        if (rc)
            return out_fail(r, rc);
    }
    r->line_start = false;
    return 0;
}

/* Template text: the indentation goes before each of its lines. */
static int put_text(struct render *r, const char *s, size_t n)
{
    if (r->indent.len == 0) { /* no partial's indentation: the text as it is */
        int rc = n ? buf_append(r->out, s, n) : 0;
        if (rc)
            return out_fail(r, rc);
        if (n)
            r->line_start = s[n - 1] == '\n';
        return 0;
    }
    while (n) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) + 1 : n;
        int rc = put_indent(r);
        if (rc)
            return rc;
        if ((rc = buf_append(r->out, s, k)) != 0)
            return out_fail(r, rc);
        r->line_start = nl != NULL;
        s += k;
        n -= k;
    }
    return 0;
}

/* HTML escapes by byte: NULL for the bytes that stay as they are. */
static const char *const html_escape[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;"};

static int put_escaped(struct render *r, const char *s, size_t n)
{
    struct buf *b = r->out;
    size_t run = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *rep = html_escape[(unsigned char)s[i]];
        if (!rep)
            continue;
        rc = buf_append(b, s + run, i - run);
        if (rc == 0)
            rc = buf_puts(b, rep);
        run = i + 1;
    }
    if (rc == 0)
        rc = buf_append(b, s + run, n - run);
    return rc ? out_fail(r, rc) : 0;
}

/* A real as mustache.js shows it: the fewest digits that read back as the
 * same double, in fixed notation from 1e-6 up to 1e21, else as 1.5e+300. */
static void format_real(double v, char *out, size_t n)
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(out, n, "%.*e", prec - 1, v);
        if (strtod(out, NULL) == v)
            break;
    }
    snprintf(out, n, "%.*e", prec - 1, v);
    char *e = strchr(out, 'e');
    if (!e)
        return; /* inf or nan: jansson never gives these */
    long exp10 = strtol(e + 1, NULL, 10);
    if (exp10 >= -6 && exp10 < 21) {
        long decimals = prec - 1 - exp10;
        snprintf(out, n, "%.*f", decimals > 0 ? (int)decimals : 0, v);
        return;
    }
    /* e+05 -> e+5 */
    char *d = e + 2, *z = d;
    while (*z == '0' && z[1])
        z++;
    memmove(d, z, strlen(z) + 1);
}

static int put_value(struct render *r, const json_t *v, bool escape)
{
    char num[40];
    const char *s;
    size_t n;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        n = strlen(num);
        break;
    case JSON_REAL:
        format_real(json_real_value(v), num, sizeof num);
        s = num;
        n = strlen(num);
        break;
    case JSON_TRUE:
        s = "true";
        n = 4;
        break;
    case JSON_FALSE:
        s = "false";
        n = 5;
        break;
    default:
        return 0;
    }
    if (n == 0)
        return 0;
    int rc = put_indent(r);
    if (rc)
        return rc;
    if (escape && !(r->opts && r->opts->plain_text))
        return put_escaped(r, s, n);
    rc = buf_append(r->out, s, n);
    return rc ? out_fail(r, rc) : 0;
}

/* Resolves a node's name against the context stack: the first part from the
 * innermost context that has it, the other parts inside that value only. */
static const json_t *lookup(const struct render *r, const struct mustache *t, const struct node *n)
{
    if (r->nstack == 0)
        return NULL;
    if (n->npart == 0)
        return r->stack[r->nstack - 1];
    const struct part *pt = &t->parts[n->part];
    const json_t *v = NULL;
    for (unsigned i = r->nstack; i-- > 0 && !v;)
        if (json_is_object(r->stack[i]))
            v = json_object_getn(r->stack[i], t->src + pt->off, pt->len);
    for (uint32_t k = 1; v && k < n->npart; k++)
        v = json_is_object(v) ? json_object_getn(v, t->src + pt[k].off, pt[k].len) : NULL;
    return v;
}

static bool truthy(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    default:
        return true;
    }
}

static int render_nodes(struct render *r, const struct mustache *t, uint32_t from, uint32_t to);

static int too_deep(struct render *r, const struct mustache *t, const struct node *n)
{
    set_error(r->err, t->src, n->at, true, "sections and partials nested deeper than %u",
              r->max_depth);
    placed_in(r, t);
    return KIOSKD_ETOOBIG;
}

static int render_section(struct render *r, const struct mustache *t, uint32_t i)
{
    const struct node *n = &t->nodes[i];
    if (r->depth >= r->max_depth)
        return too_deep(r, t, n);
    const json_t *v = lookup(r, t, n);
    int rc = 0;
    r->depth++;
    if (json_is_array(v)) {
        for (size_t k = 0; k < json_array_size(v) && rc == 0; k++) {
            r->stack[r->nstack++] = json_array_get(v, k);
            rc = render_nodes(r, t, i + 1, n->end);
            r->nstack--;
        }
    } else if (truthy(v)) {
        r->stack[r->nstack++] = v;
        rc = render_nodes(r, t, i + 1, n->end);
        r->nstack--;
    }
    r->depth--;
    return rc;
}

static int render_partial(struct render *r, const struct mustache *t, const struct node *n)
{
    const struct mustache *p = NULL;
    const struct mustache_opts *o = r->opts;
    if (!o || !o->partial)
        return 0;
    int rc = o->partial(o->partial_ctx, t->src + n->off, n->len, &p);
    if (rc) {
        set_error(r->err, t->src, n->at, true, "partial '%.*s': %s", QNAME(n->len), t->src + n->off,
                  kioskd_strerror(rc));
        placed_in(r, t);
        return rc;
    }
    if (!p)
        return 0;
    if (r->depth >= r->max_depth)
        return too_deep(r, t, n);
    size_t saved = r->indent.len;
    if (n->ind_len) {
        if ((rc = buf_append(&r->indent, t->src + n->ind_off, n->ind_len)) != 0)
            return out_fail(r, rc);
        r->line_start = true;
    }
    r->depth++;
    rc = render_nodes(r, p, 0, p->nnodes);
    r->depth--;
    r->indent.len = saved;
    return rc;
}

static int render_nodes(struct render *r, const struct mustache *t, uint32_t from, uint32_t to)
{
    int rc = 0;
    for (uint32_t i = from; i < to && rc == 0;) {
        const struct node *n = &t->nodes[i];
        if (++r->steps > r->max_steps) {
            set_error(r->err, t->src, n->at, true, "rendering took more than %lu steps",
                      r->max_steps);
            placed_in(r, t);
            return KIOSKD_ETOOBIG;
        }
        switch ((enum node_kind)n->kind) {
        case N_TEXT:
            rc = put_text(r, t->src + n->off, n->len);
            break;
        case N_VAR:
        case N_RAW: {
            const json_t *v = lookup(r, t, n);
            if (v)
                rc = put_value(r, v, n->kind == N_VAR);
            break;
        }
        case N_SECTION:
            rc = render_section(r, t, i);
            i = n->end;
            continue;
        case N_INVERTED:
            if (!truthy(lookup(r, t, n)))
                rc = render_nodes(r, t, i + 1, n->end);
            i = n->end;
            continue;
        case N_PARTIAL:
            rc = render_partial(r, t, n);
            break;
        }
        i++;
    }
    return rc;
}

int mustache_render(const struct mustache *t, const json_t *data, const struct mustache_opts *opts,
                    struct buf *out, struct mustache_error *err)
{
    struct render r = {
        .opts = opts,
        .max_depth = opts && opts->max_depth ? opts->max_depth : MUSTACHE_DEFAULT_DEPTH,
        .max_steps = opts && opts->max_steps ? opts->max_steps : MUSTACHE_DEFAULT_STEPS,
        .out = out,
        .err = err,
        .line_start = true,
    };
    /* sections push one context each; partials push none */
    const json_t *stack[MUSTACHE_DEFAULT_DEPTH + 1];
    const json_t **heap = NULL;
    r.stack = stack;
    if (r.max_depth > MUSTACHE_DEFAULT_DEPTH) {
        heap = malloc((r.max_depth + 1) * sizeof *heap);
        if (!heap) {
            set_error(err, NULL, 0, false, "out of memory");
            return KIOSKD_ENOMEM;
        }
        r.stack = heap;
    }
    buf_init(&r.indent, 64 * 1024);
    if (data)
        r.stack[r.nstack++] = data;
    int rc = render_nodes(&r, t, 0, t->nnodes);
    buf_free(&r.indent);
    free(heap);
    return rc;
}

/* --- sets --- */

struct set_entry {
    char *name;
    size_t len;
    struct mustache *t;
};

struct mustache_set {
    struct set_entry *e;
    size_t n, cap;
};

struct mustache_set *mustache_set_new(void)
{
    return calloc(1, sizeof(struct mustache_set));
}

void mustache_set_free(struct mustache_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].name);
        mustache_free(s->e[i].t);
    }
    free(s->e);
    free(s);
}

static struct set_entry *set_find(const struct mustache_set *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].len == len && memcmp(s->e[i].name, name, len) == 0)
            return &s->e[i];
    return NULL;
}

int mustache_set_put(struct mustache_set *s, const char *name, size_t len, struct mustache *t)
{
    if (set_find(s, name, len)) {
        mustache_free(t);
        return KIOSKD_ECONFLICT;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct set_entry *e = realloc(s->e, cap * sizeof *e);
        if (!e) {
            mustache_free(t);
            return KIOSKD_ENOMEM;
        }
        s->e = e;
        s->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        mustache_free(t);
        return KIOSKD_ENOMEM;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    s->e[s->n++] = (struct set_entry){.name = copy, .len = len, .t = t};
    return 0;
}

int mustache_set_get(const struct mustache_set *s, const char *name, size_t len,
                     const struct mustache **out)
{
    const struct set_entry *e = set_find(s, name, len);
    *out = e ? e->t : NULL;
    return e != NULL;
}

int mustache_set_partial(void *ctx, const char *name, size_t len, const struct mustache **out)
{
    mustache_set_get(ctx, name, len, out);
    return 0;
}
