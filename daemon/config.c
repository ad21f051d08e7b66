/*
 * The option table and its parser. Everything that reads configuration goes
 * through struct config; nothing else calls getenv for settings.
 */
#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/campaign.h"
#include "core/status.h"

enum opt_type { OPT_STR, OPT_INT, OPT_LISTEN, OPT_ENUM, OPT_SPAN };

struct opt {
    const char *section;
    const char *key;
    enum opt_type type;
    size_t offset;
    const char *def;
    int64_t min, max;    /* OPT_INT */
    const char *choices; /* OPT_ENUM: space separated */
    bool secret;         /* hidden by config_dump */
    const char *unit;
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt opts[] = {
    {"http", "listen", OPT_LISTEN, OFF(http_listen), "127.0.0.1:8080", 0, 0, NULL, false,
     "host:port", "Address and port to serve HTTP on. Port 0 picks a free port (logged at start)."},
    {"http", "cert", OPT_STR, OFF(http_cert), "", 0, 0, NULL, false, "path",
     "PEM certificate; with `key`, serve HTTPS and WSS instead of HTTP."},
    {"http", "key", OPT_STR, OFF(http_key), "", 0, 0, NULL, false, "path",
     "PEM private key for `cert`."},
    {"http", "rate_limit", OPT_INT, OFF(http_rate_limit), "20", 0, 1000000, NULL, false,
     "requests/s", "Public requests per second allowed per client address; 0 turns the limit off."},
    {"http", "rate_burst", OPT_INT, OFF(http_rate_burst), "40", 1, 1000000, NULL, false, "requests",
     "How many public requests a client address may send at once before the rate applies."},
    {"http", "request_timeout", OPT_INT, OFF(http_request_timeout), "10", 1, 300, NULL, false, "s",
     "A client that takes longer than this to send its request (headers or body) is disconnected."},
    {"http", "event_loop", OPT_ENUM, OFF(http_event_loop), "epoll", 0, 0, "poll epoll", false, "",
     "`epoll`: lws on libev, a turn costs what is ready, so thousands of idle keep-alive "
     "connections (a fleet) cost nothing; needs lws' libev plugin, else `poll` is used "
     "(logged). `poll`: lws' own loop, which visits every open connection on each turn."},
    {"http", "keepalive_timeout", OPT_INT, OFF(http_keepalive_timeout), "5", 1, 60, NULL, false,
     "s",
     "An idle keep-alive connection is closed after this long; a fleet of kiosks that poll more "
     "slowly keeps its connections open with a longer one (each holds a file descriptor: see "
     "`max_connections`)."},
    {"http", "max_connections", OPT_INT, OFF(http_max_connections), "1024", 16, 65536, NULL, false,
     "connections",
     "Connections open at once (idle keep-alive ones included); past it a new connection gets "
     "503 at once. Each takes a file descriptor: the open-file limit (`ulimit -n`, the unit's "
     "`LimitNOFILE=`) must exceed it by about 64."},
    {"http", "workers", OPT_INT, OFF(http_workers), "2", 1, 8, NULL, false, "threads",
     "Threads for slow CPU work beside the event loop: ticket signatures and checks, PIN "
     "hashing, QR images."},
    {"http", "worker_queue", OPT_INT, OFF(http_worker_queue), "4096", 1, 1000000, NULL, false,
     "jobs",
     "Door work (ticket signatures and checks, QR images) waiting for a worker; past this, "
     "requests get 503. Signing the ticket of a committed sign-up is never refused."},
    {"http", "hash_queue", OPT_INT, OFF(http_hash_queue), "64", 1, 100000, NULL, false, "jobs",
     "Logins waiting for PIN hashing, in a queue of their own behind door work; past this, "
     "logins get 503. Cancelled at once on shutdown."},
    {"http", "max_per_address", OPT_INT, OFF(http_max_per_address), "128", 1, 65536, NULL, false,
     "connections",
     "Connections one client address may hold open; more are refused at once with 429."},
    {"http", "reserved_connections", OPT_INT, OFF(http_reserved_connections), "64", 0, 65535, NULL,
     false, "connections",
     "Part of `max_connections` kept for `/healthz` and signed-in staff: while more than "
     "`max_connections` minus this are open, other requests get 503. Less than `max_connections`."},
    {"http", "min_body_rate", OPT_INT, OFF(http_min_body_rate), "1024", 0, 1000000000, NULL, false,
     "bytes/s",
     "After a 2 s grace, a request body must arrive at least this fast or the connection is "
     "closed (408); 0 turns the check off."},
    {"store", "path", OPT_STR, OFF(store_path), "./var/kioskd.db", 0, 0, NULL, false, "path",
     "The SQLite database; created (with its folder) and migrated at start."},
    {"store", "key_file", OPT_STR, OFF(store_key_file), "./var/kioskd.key", 0, 0, NULL, false,
     "path",
     "Key that encrypts personal data at rest; created with mode 0600 on first start and refused "
     "if others can read it."},
    {"store", "queue_max", OPT_INT, OFF(store_queue_max), "4096", 1, 1000000, NULL, false, "jobs",
     "Durable writes waiting for the store writer; past this, requests get 503 with Retry-After."},
    {"store", "busy_timeout", OPT_INT, OFF(store_busy_timeout), "5000", 0, 600000, NULL, false,
     "ms", "How long a database connection waits for a lock held by another connection."},
    {"store", "checkpoint_pages", OPT_INT, OFF(store_checkpoint_pages), "2000", 100, 1000000, NULL,
     false, "pages", "WAL size that triggers a checkpoint on the writer thread."},
    {"store", "read_audit", OPT_ENUM, OFF(store_read_audit), "queued", 0, 0, "queued committed",
     false, "",
     "When a staff read of people (points and member lookups, rosters, waitlists, call lists, "
     "upgrade lists) is answered: `queued`, once its audit line is queued for the writer (a full "
     "queue still refuses the read with 503; the line commits in the next group commit, without "
     "the answer waiting for its fsync); `committed`, only after the line has committed. A phone "
     "reveal is always answered after its audit line has committed."},
    {"log", "file", OPT_STR, OFF(log_file), "", 0, 0, NULL, false, "path",
     "Write the log here instead of stderr; reopened on SIGHUP (for log rotation)."},
    {"log", "level", OPT_ENUM, OFF(log_level), "info", 0, 0, "debug info warn error", false, "",
     "Least severe level written."},
    {"tickets", "key_file", OPT_STR, OFF(tickets_key_file), "./var/ticket-key.pem", 0, 0, NULL,
     false, "path",
     "This daemon's ECDSA P-256 ticket signing key (PEM, mode 0600); created on first start "
     "or by `kioskd keygen`."},
    {"events", "upgrade_capacity", OPT_INT, OFF(events_upgrade_capacity), "10", 1, 1000, NULL,
     false, "guests", "Capacity of an upgrade meeting when none is given."},
    {"events", "upgrade_max", OPT_INT, OFF(events_upgrade_max), "20", 1, 1000, NULL, false,
     "guests", "Largest capacity an upgrade meeting may have."},
    {"events", "checkin_opens", OPT_INT, OFF(events_checkin_opens), "7200", 0, 604800, NULL, false,
     "s", "How long before an event starts its check-in opens; it closes at the event's end."},
    {"staff", "token_ttl", OPT_INT, OFF(staff_token_ttl), "43200", 1, 2592000, NULL, false, "s",
     "Lifetime of a staff login token."},
    {"staff", "lock_after", OPT_INT, OFF(staff_lock_after), "5", 1, 100, NULL, false, "attempts",
     "Wrong PINs in a row for one staff id from one client address that lock that id at that "
     "address (unknown ids are counted alike)."},
    {"staff", "lock_seconds", OPT_INT, OFF(staff_lock_seconds), "900", 1, 86400, NULL, false, "s",
     "How long a locked staff account stays locked."},
    {"staff", "lock_global", OPT_INT, OFF(staff_lock_global), "50", 1, 10000, NULL, false,
     "attempts",
     "Wrong PINs in a row for one staff id from all addresses together that lock it everywhere. "
     "`lock_after` counts per staff id and client address, so a lock from one address does not "
     "lock the member out on another tablet; this lock is far above it. Unknown ids are counted "
     "alike. `kioskd staff unlock ID` lifts both."},
    {"staff", "login_per_minute", OPT_INT, OFF(staff_login_per_minute), "20", 0, 100000, NULL,
     false, "logins/min",
     "Login attempts a minute allowed from one client address (a tablet), right or wrong, "
     "before 429 with Retry-After; 0 turns the limit off."},
    {"staff", "login_id_per_minute", OPT_INT, OFF(staff_login_id_per_minute), "10", 0, 100000, NULL,
     false, "logins/min",
     "Login attempts a minute allowed for one staff id from all addresses together, before 429 "
     "with Retry-After; 0 turns the limit off. Anyone can spend it for an id, so it only slows "
     "a flood: keep it above what a member needs (a few logins a day)."},
    {"kiosk", "signups_per_minute", OPT_INT, OFF(kiosk_signups_per_minute), "10", 0, 100000, NULL,
     false, "sign-ups/min",
     "Sign-ups a minute allowed from one client address, before 429 with Retry-After; 0 turns "
     "the limit off. The kiosk is one address that serves many residents in a queue, and a "
     "resident needs half a minute or more to type a name and a phone and give consent, so the "
     "default leaves a busy kiosk room to spare while stopping a script that books out events."},
    {"kiosk", "signups_per_phone", OPT_INT, OFF(kiosk_signups_per_phone), "3", 0, 1000, NULL, false,
     "sign-ups",
     "Sign-ups one phone may hold at once in events that have not ended (not counting cancelled "
     "ones and walk-ins); past this, 409 `signup_limit`. 0 turns the limit off."},
    {"kiosk", "printer", OPT_ENUM, OFF(kiosk_printer), "none", 0, 0, "none 58mm 80mm", false, "",
     "Receipt printer beside the kiosk: the ticket screen then offers a paper slip (QR, short "
     "code, event, time, venue) laid out for that paper width; none hides the button."},
    {"tiers", "potential", OPT_INT, OFF(tiers_potential), "50000", 0, 10000000000000, NULL, false,
     "CNY",
     "AUM from which a member is in the 潜力 tier (below it: 长尾); tiers are computed "
     "when members are imported."},
    {"tiers", "midhigh", OPT_INT, OFF(tiers_midhigh), "200000", 0, 10000000000000, NULL, false,
     "CNY", "AUM from which a member is in the 中高端 tier."},
    {"tiers", "private", OPT_INT, OFF(tiers_private), "6000000", 0, 10000000000000, NULL, false,
     "CNY", "AUM from which a member is in the 财私 (private banking) tier."},
    {"tiers", "trial_days", OPT_INT, OFF(tiers_trial_days), "90", 1, 3660, NULL, false, "days",
     "An approved upgrade grants its target tier as a trial (升级体验期) for this many days; it "
     "lapses by itself, or becomes the real tier when the assets arrive."},
    {"points", "checkin_bonus", OPT_INT, OFF(points_checkin_bonus), "50", 0, 1000000, NULL, false,
     "points", "Points a member earns once per sign-up when checked in; 0 turns it off."},
    {"points", "referral_bonus", OPT_INT, OFF(points_referral_bonus), "200", 0, 1000000, NULL,
     false, "points",
     "Points a member earns when a guest who named the member's phone as referrer checks in: once "
     "per referred guest, no cap per member; 0 turns it off."},
    {"points", "per_10k", OPT_INT, OFF(points_per_10k), "10", 0, 100000, NULL, false, "points",
     "Points per 10,000 CNY of new business in an approved upgrade, times the product's "
     "coefficient (折算系数), rounded down."},
    {"points", "expiry_years", OPT_INT, OFF(points_expiry_years), "1", 0, 50, NULL, false, "years",
     "Points earned in year Y expire at the end of year Y + this (China time): 1 means the end "
     "of the next calendar year, 0 the end of the same year."},
    {"bot", "secret", OPT_STR, OFF(bot_secret), "", 0, 0, NULL, true, "text",
     "Shared secret other chat bridges send as `X-Bot-Secret` to `POST /api/v1/bot/messages`; "
     "empty turns that endpoint off (503)."},
    {"bot", "public_url", OPT_STR, OFF(bot_public_url), "", 0, 0, NULL, false, "URL",
     "Address the members' phones reach this daemon at (e.g. https://branch.example.com), for "
     "the ticket link in a chat sign-up's reply; empty: the reply gives the 6-digit code only."},
    {"bot", "per_minute", OPT_INT, OFF(bot_per_minute), "10", 0, 100000, NULL, false, "commands",
     "Commands one chat identity may send a minute; past this each gets a polite reply to "
     "wait, and nothing is done. 0 turns the limit off."},
    {"bot", "bind_failures", OPT_INT, OFF(bot_bind_failures), "5", 1, 100, NULL, false, "codes",
     "Wrong bind codes a chat identity may send before binding is locked for it."},
    {"bot", "bind_lock", OPT_INT, OFF(bot_bind_lock), "3600", 60, 86400, NULL, false, "s",
     "How long binding stays locked after too many wrong codes."},
    {"bot", "reply_within", OPT_INT, OFF(bot_reply_within), "4000", 100, 60000, NULL, false, "ms",
     "How long `POST /api/v1/bot/messages` may wait for its reply (a slow store): past this it "
     "answers 202 `{\"pending\": id}` and the reply is fetched with "
     "`GET /api/v1/bot/replies/{id}` (kept two days)."},
    {"wechat", "token", OPT_STR, OFF(wechat_token), "", 0, 0, NULL, true, "text",
     "The Token of the Official Account's server configuration: GET and POST /wechat are "
     "checked with it; empty turns /wechat off (503)."},
    {"wechat", "appid", OPT_STR, OFF(wechat_appid), "", 0, 0, NULL, false, "text",
     "The Official Account's AppID; safe-mode messages for another appid are refused."},
    {"wechat", "encoding_aes_key", OPT_STR, OFF(wechat_encoding_aes_key), "", 0, 0, NULL, true,
     "43 characters",
     "The EncodingAESKey for safe mode (encrypt_type=aes); empty: safe-mode messages are "
     "refused."},
    {"wechat", "secret", OPT_STR, OFF(wechat_secret), "", 0, 0, NULL, true, "text",
     "The Official Account's AppSecret, for template messages to members bound in the chat "
     "(with `appid`); empty: members get SMS instead."},
    {"wechat", "api_url", OPT_STR, OFF(wechat_api_url), "https://api.weixin.qq.com", 0, 0, NULL,
     false, "URL", "Base URL of WeChat's API (the stable token and template messages)."},
    {"wechat", "reply_within", OPT_INT, OFF(wechat_reply_within), "4000", 100, 4500, NULL, false,
     "ms",
     "How long a WeChat message may wait for its reply (a slow store): past this the callback "
     "answers `success` and the reply follows as a customer-service message (needs `appid` "
     "and `secret`)."},
    {"sms", "url", OPT_STR, OFF(sms_url), "", 0, 0, NULL, false, "URL",
     "The SMS gateway: each message is POSTed as {\"id\",\"phone\",\"text\"}, signed in "
     "`X-Kioskd-Signature` (docs/messages.md); empty: no SMS."},
    {"sms", "secret", OPT_STR, OFF(sms_secret), "", 0, 0, NULL, true, "text",
     "Key of the gateway's signature: hex(HMAC-SHA256(secret, body))."},
    {"sms", "timeout", OPT_INT, OFF(sms_timeout), "10", 1, 120, NULL, false, "s",
     "How long the gateway may take to answer; after that the message is retried."},
    {"sms", "max_chars", OPT_INT, OFF(sms_max_chars), "300", 20, 2000, NULL, false, "characters",
     "Longest text sent in one request; a longer one is split into numbered parts "
     "(docs/messages.md)."},
    {"wecom", "robot_key", OPT_STR, OFF(wecom_robot_key), "", 0, 0, NULL, true, "text",
     "Key of the staff group's WeCom robot (its webhook's key=...); empty: staff summaries go "
     "to the log channel."},
    {"wecom", "api_url", OPT_STR, OFF(wecom_api_url), "https://qyapi.weixin.qq.com", 0, 0, NULL,
     false, "URL", "Base URL of the WeCom robot's webhook."},
    {"wecom", "per_minute", OPT_INT, OFF(wecom_per_minute), "20", 1, 1000, NULL, false, "messages",
     "Messages a minute the robot takes (WeCom allows 20); more wait their turn."},
    {"messages", "channel", OPT_ENUM, OFF(messages_channel), "auto", 0, 0, "auto sms log off",
     false, "",
     "Where messages to people go: auto (SMS when `[sms] url` is set, else the log), sms, log "
     "(masked, for development and the demo) or off (none are queued). Members bound in the "
     "chat get WeChat template messages when `[wechat] appid` and `secret` are set."},
    {"messages", "quiet_hours", OPT_SPAN, OFF(messages_quiet_hours), "21:00-08:00", 0, 0, NULL,
     false, "HH:MM-HH:MM",
     "China time in which messages other than confirmations wait; empty turns it off."},
    {"messages", "daily_cap", OPT_INT, OFF(messages_daily_cap), "3", 0, 100, NULL, false,
     "messages",
     "Messages other than confirmations one person gets a China day; more wait for "
     "the next day. 0 turns the cap off."},
    {"messages", "max_attempts", OPT_INT, OFF(messages_max_attempts), "8", 1, 100, NULL, false,
     "attempts",
     "Attempts at a message before it is failed (retry it with "
     "`POST /api/v1/messages/{id}/retry`)."},
    {"messages", "retry_base", OPT_INT, OFF(messages_retry_base), "30", 1, 3600, NULL, false, "s",
     "Wait before the first retry; each next one waits twice as long (at most an hour), give or "
     "take a quarter at random."},
    {"messages", "maturity_days", OPT_INT, OFF(messages_maturity_days), "7", 0, 60, NULL, false,
     "days", "How long before a product matures its member is reminded (10:00 China time)."},
    {"messages", "interval", OPT_INT, OFF(messages_interval), "30", 1, 3600, NULL, false, "s",
     "How often the scheduler derives new messages from events, sign-ups and members."},
    {"messages", "templates", OPT_STR, OFF(messages_templates), "", 0, 0, NULL, false, "path",
     "Folder whose KIND.CHANNEL.mustache files replace the built-in templates of the same name "
     "(docs/messages.md); checked at start."},
    {"campaigns", "sleeping_days", OPT_INT, OFF(campaigns_sleeping_days), "180", 1, 3650, NULL,
     false, "days",
     "A member whose last transaction is older than this is sleeping (a campaign's audience "
     "`\"sleeping\": true`, docs/campaigns.md)."},
    {"campaigns", "festivals", OPT_STR, OFF(campaigns_festivals), "春节 元宵 端午 中秋 重阳", 0, 0,
     NULL, false, "names",
     "Festivals on which every member gets a greeting (kind festival, 10:00 China time; dates "
     "shipped for 2026-2030), separated by spaces; empty for none."},
    {"hq", "url", OPT_STR, OFF(hq_url), "", 0, 0, NULL, false, "URL",
     "HQ's sync address (e.g. https://hq.example.com); empty turns sync off. `kioskd sync "
     "--once` pushes the outbox there and pulls HQ's changes (docs/sync.md)."},
    {"hq", "device", OPT_STR, OFF(hq_device), "", 0, 0, NULL, false, "id",
     "This daemon's device id at HQ (1 to 64 of A-Z a-z 0-9 . _ -), as given to `kioskd hq "
     "device add`."},
    {"hq", "secret", OPT_STR, OFF(hq_secret), "", 0, 0, NULL, true, "text",
     "The device secret `kioskd hq device add` printed; every sync request is signed with it."},
    {"hq", "ca_file", OPT_STR, OFF(hq_ca_file), "", 0, 0, NULL, false, "path",
     "PEM CA certificate(s) HQ's TLS certificate must chain to (a private CA); empty: the "
     "system's trusted CAs. The certificate and its host name are always verified."},
    {"hq", "batch", OPT_INT, OFF(hq_batch), "500", 1, 5000, NULL, false, "entries",
     "Outbox entries sent in one push."},
    {"hq", "gzip", OPT_ENUM, OFF(hq_gzip), "on", 0, 0, "on off", false, "",
     "Compress pushes with gzip (Content-Encoding: gzip)."},
    {"hq", "interval", OPT_INT, OFF(hq_interval), "60", 1, 86400, NULL, false, "s",
     "Seconds between sync rounds when idle."},
    {"hq", "timeout", OPT_INT, OFF(hq_timeout), "30", 1, 600, NULL, false, "s",
     "Longest a sync request may take, connection included."},
    {"hq", "max_backoff", OPT_INT, OFF(hq_max_backoff), "300", 1, 86400, NULL, false, "s",
     "Longest wait after failed sync rounds: the daemon retries after [hq] interval, doubling "
     "the wait per failure up to this, with random jitter."},
    {"hqserver", "listen", OPT_LISTEN, OFF(hqserver_listen), "127.0.0.1:8443", 0, 0, NULL, false,
     "host:port",
     "Where `kioskd hq` (the reference HQ server) serves the sync protocol. Port 0 picks a free "
     "port (logged at start)."},
    {"hqserver", "cert", OPT_STR, OFF(hqserver_cert), "", 0, 0, NULL, false, "path",
     "PEM certificate; with `key`, `kioskd hq` serves HTTPS (branches send personal data: use "
     "TLS anywhere but a test bench)."},
    {"hqserver", "key", OPT_STR, OFF(hqserver_key), "", 0, 0, NULL, false, "path",
     "PEM private key for `cert`."},
    {"hqserver", "database", OPT_STR, OFF(hqserver_database), "./var/hq.db", 0, 0, NULL, false,
     "path",
     "HQ's SQLite database (devices, pushed entries, changes for branches); created "
     "and migrated at start. Not used when `database_url` is set."},
    {"hqserver", "database_url", OPT_STR, OFF(hqserver_database_url), "", 0, 0, NULL, true,
     "libpq URL",
     "A PostgreSQL connection string (e.g. postgresql:///kioskd_hq?host=/run/postgresql); "
     "when set, HQ keeps its data there instead of in `database`, and several `kioskd hq` "
     "processes may share it (docs/sync.md). Empty: SQLite."},
    {"hqserver", "key_file", OPT_STR, OFF(hqserver_key_file), "./var/hq.key", 0, 0, NULL, false,
     "path",
     "HQ's own key for personal data and device secrets at rest (mode 0600; created on first "
     "use)."},
    {"hqserver", "ticket_key_file", OPT_STR, OFF(hqserver_ticket_key_file),
     "./var/hq-ticket-key.pem", 0, 0, NULL, false, "path",
     "HQ's ticket signing key (ECDSA P-256 PEM, mode 0600; created on first use), for sign-ups "
     "taken at HQ; the branches pull its public part (change kind key)."},
    {"hqserver", "admin_token", OPT_STR, OFF(hqserver_admin_token), "", 0, 0, NULL, true, "text",
     "Bearer token of `GET /hq/v1/devices` and the devices page; empty turns both off (503). "
     "Use 32 random characters or more."},
    {"hqserver", "window", OPT_INT, OFF(hqserver_window), "300", 30, 3600, NULL, false, "s",
     "A request whose timestamp is further than this from HQ's clock is refused (401)."},
};

#define NOPTS (sizeof opts / sizeof opts[0])

static char **str_field(struct config *c, const struct opt *o)
{
    return (char **)(void *)((char *)c + o->offset);
}

static int64_t *int_field(struct config *c, const struct opt *o)
{
    return (int64_t *)(void *)((char *)c + o->offset);
}

static const struct opt *opt_find(const char *section, const char *key)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].section, section) == 0)
            return true;
    return false;
}

/* Parses host:port into the host and port fields of listen option o. */
static int parse_listen(struct config *c, const struct opt *o, const char *v, char *why,
                        size_t whylen)
{
    bool hq = o->offset == OFF(hqserver_listen);
    char *host = hq ? c->hqserver_host : c->http_host;
    size_t host_size = hq ? sizeof c->hqserver_host : sizeof c->http_host;
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) {
        snprintf(why, whylen, "must be host:port, e.g. 127.0.0.1:8080");
        return -1;
    }
    size_t hlen = (size_t)(colon - v);
    const char *h = v;
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= host_size) {
        snprintf(why, whylen, "host must be 1 to %zu characters", host_size - 1);
        return -1;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535) {
        snprintf(why, whylen, "port must be a number from 0 to 65535");
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *(hq ? &c->hqserver_port : &c->http_port) = (int)port;
    return 0;
}

/* Sets option o from text v; on failure writes why. */
static int opt_set(struct config *c, const struct opt *o, const char *v, char *why, size_t whylen)
{
    switch (o->type) {
    case OPT_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < o->min || n > o->max) {
            snprintf(why, whylen, "must be a whole number from %lld to %lld", (long long)o->min,
                     (long long)o->max);
            return -1;
        }
        *int_field(c, o) = n;
        return 0;
    }
    case OPT_LISTEN:
        if (parse_listen(c, o, v, why, whylen))
            return -1;
        break;
    case OPT_ENUM: {
        size_t n = strlen(v);
        const char *p = o->choices;
        bool found = false;
        while (*p && !found) {
            size_t w = strcspn(p, " ");
            found = w == n && n > 0 && strncmp(p, v, n) == 0;
            p += w;
            p += strspn(p, " ");
        }
        if (!found) {
            snprintf(why, whylen, "must be one of: %s", o->choices);
            return -1;
        }
        break;
    }
    case OPT_SPAN: {
        unsigned h1, m1, h2, m2;
        char tail;
        if (!*v) {
            c->messages_quiet_from = c->messages_quiet_to = 0;
            break;
        }
        if (sscanf(v, "%2u:%2u-%2u:%2u%c", &h1, &m1, &h2, &m2, &tail) != 4 || h1 > 23 || m1 > 59 ||
            h2 > 23 || m2 > 59 || strlen(v) != 11) {
            snprintf(why, whylen, "must be HH:MM-HH:MM (e.g. 21:00-08:00) or empty");
            return -1;
        }
        c->messages_quiet_from = (int)(h1 * 60 + m1);
        c->messages_quiet_to = (int)(h2 * 60 + m2);
        break;
    }
    case OPT_STR:
        break;
    }
    char *dup = strdup(v);
    if (!dup) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    char **f = str_field(c, o);
    free(*f);
    *f = dup;
    return 0;
}

struct ini_state {
    struct config *c;
    const char *path;
    FILE *file;
    int line;
    bool seen[NOPTS];
    char *err;
    size_t errlen;
    bool failed;
};

static char *cfg_reader(char *str, int num, void *stream)
{
    struct ini_state *st = stream;
    char *r = fgets(str, num, st->file);
    if (r)
        st->line++;
    return r;
}

static int cfg_handler(void *user, const char *section, const char *key, const char *value)
{
    struct ini_state *st = user;
    if (st->failed)
        return 1;
    const struct opt *o = opt_find(section, key);
    char why[160];
    if (!o) {
        snprintf(why, sizeof why, "unknown key%s",
                 section_known(section) ? "" : " (unknown section)");
    } else if (st->seen[o - opts]) {
        snprintf(why, sizeof why, "set twice");
        o = NULL;
    } else if (opt_set(st->c, o, value, why, sizeof why) == 0) {
        st->seen[o - opts] = true;
        return 1;
    }
    snprintf(st->err, st->errlen, "%s:%d: [%s] %s: %s", st->path, st->line, section, key, why);
    st->failed = true;
    return 1;
}

static void env_name(const struct opt *o, char *out, size_t n)
{
    snprintf(out, n, "KIOSKD_%s_%s", o->section, o->key);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

extern char **environ;

static int load_env(struct config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < NOPTS; i++) {
        char name[96], why[160];
        env_name(&opts[i], name, sizeof name);
        const char *v = getenv(name);
        if (v && opt_set(c, &opts[i], v, why, sizeof why)) {
            snprintf(err, errlen, "environment %s: %s", name, why);
            return KIOSKD_ECONFIG;
        }
    }
    /* A misspelt override of a known section is refused, like a misspelt key. */
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "KIOSKD_", 7) != 0)
            continue;
        size_t nlen = strcspn(*e, "=");
        bool known = false, in_section = false;
        for (size_t i = 0; i < NOPTS && !known; i++) {
            char name[96], prefix[64];
            env_name(&opts[i], name, sizeof name);
            known = strlen(name) == nlen && strncmp(name, *e, nlen) == 0;
            snprintf(prefix, sizeof prefix, "KIOSKD_%s_", opts[i].section);
            for (char *p = prefix; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            in_section = in_section || strncmp(*e, prefix, strlen(prefix)) == 0;
        }
        if (!known && in_section) {
            snprintf(err, errlen, "environment %.*s: unknown key", (int)(nlen > 80 ? 80 : nlen),
                     *e);
            return KIOSKD_ECONFIG;
        }
    }
    return 0;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char why[160];
    for (size_t i = 0; i < NOPTS; i++) {
        if (opt_set(c, &opts[i], opts[i].def, why, sizeof why)) {
            snprintf(err, errlen, "default [%s] %s: %s", opts[i].section, opts[i].key, why);
            return KIOSKD_ECONFIG;
        }
    }
    if (path) {
        struct ini_state st = {.c = c, .path = path, .err = err, .errlen = errlen};
        st.file = fopen(path, "r");
        if (!st.file) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return KIOSKD_ECONFIG;
        }
        int rc = ini_parse_stream(cfg_reader, &st, cfg_handler, &st);
        fclose(st.file);
        if (st.failed)
            return KIOSKD_ECONFIG;
        if (rc != 0) {
            snprintf(err, errlen, "%s:%d: not a valid INI line", path, rc > 0 ? rc : st.line);
            return KIOSKD_ECONFIG;
        }
    }
    if (load_env(c, err, errlen))
        return KIOSKD_ECONFIG;
    if ((c->http_cert[0] != '\0') != (c->http_key[0] != '\0')) {
        snprintf(err, errlen, "[http] cert and key must be given together");
        return KIOSKD_ECONFIG;
    }
    if (c->http_reserved_connections >= c->http_max_connections) {
        snprintf(err, errlen, "[http] reserved_connections must be less than max_connections");
        return KIOSKD_ECONFIG;
    }
    if (c->events_upgrade_capacity > c->events_upgrade_max) {
        snprintf(err, errlen, "[events] upgrade_capacity must not exceed upgrade_max");
        return KIOSKD_ECONFIG;
    }
    if (c->tiers_potential > c->tiers_midhigh || c->tiers_midhigh > c->tiers_private) {
        snprintf(err, errlen, "[tiers] must rise: potential <= midhigh <= private");
        return KIOSKD_ECONFIG;
    }
    const char *bad = NULL;
    if (campaign_festivals_parse(c->campaigns_festivals, &c->campaigns_festival_mask, &bad) != 0) {
        int n = (int)strcspn(bad, " ,");
        snprintf(err, errlen,
                 "[campaigns] festivals: unknown festival '%.*s' (春节 元宵 端午 中秋 重阳)",
                 n > 40 ? 40 : n, bad);
        return KIOSKD_ECONFIG;
    }
    if (c->store_path[0] == '\0') {
        snprintf(err, errlen, "[store] path must not be empty");
        return KIOSKD_ECONFIG;
    }
    return 0;
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].type != OPT_INT) {
            char **f = str_field(c, &opts[i]);
            free(*f);
            *f = NULL;
        }
    }
}

void config_dump(const struct config *c, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        if (strcmp(section, o->section) != 0) {
            fprintf(out, "%s[%s]\n", i ? "\n" : "", o->section);
            section = o->section;
        }
        if (o->type == OPT_INT)
            fprintf(out, "%s = %lld\n", o->key, (long long)*int_field((struct config *)c, o));
        else
            fprintf(out, "%s = %s\n", o->key,
                    o->secret && **str_field((struct config *)c, o)
                        ? "(set)"
                        : *str_field((struct config *)c, o));
    }
}

void config_doc(FILE *out)
{
    fprintf(out, "| section | key | default | unit | environment | meaning |\n"
                 "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &opts[i];
        char name[96], range[64] = "";
        env_name(o, name, sizeof name);
        if (o->type == OPT_INT)
            snprintf(range, sizeof range, " (%lld to %lld)", (long long)o->min, (long long)o->max);
        else if (o->type == OPT_ENUM)
            snprintf(range, sizeof range, " (%s)", o->choices);
        fprintf(out, "| %s | %s | `%s` | %s | `%s` | %s%s |\n", o->section, o->key, o->def, o->unit,
                name, o->help, range);
    }
}

/* The certificate and key lws will serve, checked before it starts: lws (on
 * OpenSSL) would only say it cannot start, or worse start with a key that does
 * not match. mbedTLS reads the same PEM files. */
int config_check_tls(const char *section, const char *cert, const char *key, char *err,
                     size_t errlen)
{
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    int rc = KIOSKD_ECONFIG;
    char why[128];
    if (!cert[0] && !key[0])
        return 0;
    if (!cert[0] || !key[0]) {
        snprintf(err, errlen, "[%s] cert and key must be given together", section);
        return KIOSKD_ECONFIG;
    }
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&pk);
    FILE *f = fopen(cert, "r");
    if (!f) {
        snprintf(err, errlen, "[%s] cert: %s: cannot read: %s", section, cert, strerror(errno));
        goto out;
    }
    fclose(f);
    int mrc = mbedtls_x509_crt_parse_file(&crt, cert);
    if (mrc != 0) {
        mbedtls_strerror(mrc, why, sizeof why);
        snprintf(err, errlen, "[%s] cert: %s: not a PEM certificate (%s)", section, cert, why);
        goto out;
    }
    f = fopen(key, "r");
    if (!f) {
        snprintf(err, errlen, "[%s] key: %s: cannot read: %s", section, key, strerror(errno));
        goto out;
    }
    fclose(f);
    mrc = mbedtls_pk_parse_keyfile(&pk, key, NULL);
    if (mrc != 0) {
        mbedtls_strerror(mrc, why, sizeof why);
        snprintf(err, errlen, "[%s] key: %s: not an unencrypted PEM private key (%s)", section, key,
                 why);
        goto out;
    }
    if (mbedtls_pk_check_pair(&crt.pk, &pk) != 0) {
        snprintf(err, errlen, "[%s] key: %s does not match the certificate %s", section, key, cert);
        goto out;
    }
    rc = 0;
out:
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
    return rc;
}
