/*
 * The kiosk and staff pages: static files under web/, compiled into the
 * binary (core/embedded.h) so that a deployment is one file and nothing is
 * fetched from outside at run time.
 *   /              web/kiosk.html
 *   /staff         web/staff.html
 *   /staff/stats   web/stats.html
 *   /t/{code}      web/ticket.html     (the guest's own ticket, on a phone)
 *   /assets/{name} web/assets/{name}   (scripts, styles, sounds, images)
 */
#include <string.h>

#include "core/embedded.h"
#include "daemon/http.h"
#include "daemon/messages.h"
#include "handlers/handlers.h"

/* Pages load only their own scripts and styles, and are never framed. */
#define PAGE_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "        \
    "media-src 'self' data:; connect-src 'self' ws: wss:; font-src 'self'; "                       \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".wav", "audio/wav"},
    {".mp3", "audio/mpeg"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
    {".ico", "image/x-icon"},
};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static const struct embedded_file *find(const char *name)
{
    for (const struct embedded_file *f = embedded_web; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static void serve(struct req *r, const char *name, const char *cache)
{
    const struct embedded_file *f = find(name);
    if (!f) {
        req_error(r, 404, "not_found", "no such file", NULL);
        return;
    }
    r->cache = cache;
    req_header(r, "content-security-policy:", PAGE_CSP);
    req_header(r, "x-frame-options:", "DENY");
    req_header(r, "referrer-policy:", "no-referrer");
    req_reply(r, 200, type_of(name), (const char *)f->data, f->len);
}

static void kiosk_page(struct req *r)
{
    serve(r, "kiosk.html", "no-cache");
}

static void staff_page(struct req *r)
{
    serve(r, "staff.html", "no-cache");
}

static void ticket_page(struct req *r)
{
    serve(r, "ticket.html", "no-cache");
}

static void stats_page(struct req *r)
{
    serve(r, "stats.html", "no-cache");
}

static void asset(struct req *r)
{
    char name[ROUTE_PARAM_MAX + 8];
    const char *file = req_param(r, "name");
    if (!file || strchr(file, '/') || file[0] == '.') {
        req_error(r, 404, "not_found", "no such file", NULL);
        return;
    }
    memcpy(name, "assets/", 7);
    memcpy(name + 7, file, strlen(file) + 1);
    /* revalidated like the pages, so an upgraded daemon never mixes old and new files */
    serve(r, name, "no-cache");
}

/* GET /api/v1/kiosk: what the kiosk page needs of the configuration; sms:
 * whether the ticket screen offers to send the ticket link to the phone. */
static void kiosk_settings(struct req *r)
{
    const struct config *c = &r->k->cfg;
    req_json(r, 200,
             json_pack("{s:s, s:I, s:b}", "printer", c->kiosk_printer, "checkin_opens",
                       (json_int_t)c->events_checkin_opens, "sms", messages_sms_on(r->k)));
}

const struct route web_routes[] = {
    {.method = HTTP_GET, .pattern = "/", .flags = ROUTE_PUBLIC, .fn = kiosk_page},
    {.method = HTTP_GET, .pattern = "/staff", .flags = ROUTE_PUBLIC, .fn = staff_page},
    {.method = HTTP_GET, .pattern = "/staff/stats", .flags = ROUTE_PUBLIC, .fn = stats_page},
    {.method = HTTP_GET,
     .pattern = "/t/{code}",
     .flags = ROUTE_PUBLIC | ROUTE_REDACT_PATH,
     .fn = ticket_page},
    {.method = HTTP_GET, .pattern = "/assets/{name}", .flags = ROUTE_PUBLIC, .fn = asset},
    {.method = HTTP_GET, .pattern = "/api/v1/kiosk", .flags = ROUTE_PUBLIC, .fn = kiosk_settings},
    {0},
};
