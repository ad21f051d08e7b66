/*
 * Configuration: one table of options (section, key, type, range, default,
 * help) drives the INI parser, the KIOSKD_SECTION_KEY environment overrides,
 * the errors (file:line, key), `kioskd check-config` and docs/config.md.
 */
#ifndef KIOSKD_CONFIG_H
#define KIOSKD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    /* [http] */
    char *http_listen;  /* as given */
    char http_host[64]; /* parsed from http_listen */
    int http_port;
    char *http_cert;
    char *http_key;
    int64_t http_rate_limit; /* requests per second per address; 0 = off */
    int64_t http_rate_burst;
    int64_t http_request_timeout; /* seconds */
    int64_t http_max_connections;
    int64_t http_keepalive_timeout; /* seconds */
    char *http_event_loop;          /* "poll" or "epoll" */
    int64_t http_workers;
    int64_t http_worker_queue; /* door work (signing, checking, QR images) waiting */
    int64_t http_hash_queue;   /* PIN hashes waiting */
    int64_t http_max_per_address;
    int64_t http_reserved_connections;
    int64_t http_min_body_rate; /* bytes per second; 0 = off */
    /* [store] */
    char *store_path;
    char *store_key_file;
    int64_t store_queue_max;
    int64_t store_busy_timeout; /* milliseconds */
    int64_t store_checkpoint_pages;
    char *store_read_audit; /* "queued" or "committed" */
    /* [log] */
    char *log_file; /* empty: stderr */
    char *log_level;
    /* [tickets] */
    char *tickets_key_file;
    /* [events] */
    int64_t events_upgrade_capacity;
    int64_t events_upgrade_max;
    int64_t events_checkin_opens; /* seconds before starts_at */
    /* [staff] */
    int64_t staff_token_ttl;  /* seconds */
    int64_t staff_lock_after; /* wrong PINs */
    int64_t staff_lock_seconds;
    int64_t staff_lock_global;         /* wrong PINs from all addresses */
    int64_t staff_login_per_minute;    /* per client address; 0 = off */
    int64_t staff_login_id_per_minute; /* per staff id; 0 = off */
    /* [kiosk] */
    int64_t kiosk_signups_per_minute; /* per client address; 0 = off */
    int64_t kiosk_signups_per_phone;  /* in events not ended; 0 = off */
    char *kiosk_printer;              /* none, 58mm, 80mm */
    /* [tiers]: AUM lines in CNY, each the least of the tier above it */
    int64_t tiers_potential, tiers_midhigh, tiers_private;
    int64_t tiers_trial_days; /* an approved upgrade's trial tier lasts this long */
    /* [points] */
    int64_t points_checkin_bonus;
    int64_t points_referral_bonus;
    int64_t points_per_10k;      /* points per 10,000 CNY of new business, times the coefficient */
    int64_t points_expiry_years; /* points earned in year Y last until the end of Y + this */
    /* [bot] */
    char *bot_secret;          /* X-Bot-Secret of POST /api/v1/bot/messages; "" = off */
    char *bot_public_url;      /* base of links in replies, e.g. https://branch.example */
    int64_t bot_per_minute;    /* commands per chat identity per minute */
    int64_t bot_bind_failures; /* wrong bind codes before binding is locked */
    int64_t bot_bind_lock;     /* seconds binding stays locked */
    int64_t bot_reply_within;  /* ms before the bridge answers 202 {"pending"} */
    /* [wechat] */
    char *wechat_token;            /* the callback's token; "" turns /wechat off */
    char *wechat_appid;            /* the Official Account's appid (safe mode) */
    char *wechat_encoding_aes_key; /* 43 characters (safe mode) */
    char *wechat_secret;           /* AppSecret: template messages */
    char *wechat_api_url;
    int64_t wechat_reply_within; /* ms before a slow reply goes as a customer-service message */
    /* [sms] */
    char *sms_url; /* "" = no SMS */
    char *sms_secret;
    int64_t sms_timeout;   /* seconds */
    int64_t sms_max_chars; /* characters per request; longer texts are split */
    /* [wecom] */
    char *wecom_robot_key;
    char *wecom_api_url;
    int64_t wecom_per_minute;
    /* [messages] */
    char *messages_channel;                     /* auto, sms, log, off */
    char *messages_quiet_hours;                 /* as given */
    int messages_quiet_from, messages_quiet_to; /* minutes of the China day; equal: none */
    int64_t messages_daily_cap;
    int64_t messages_max_attempts;
    int64_t messages_retry_base; /* seconds */
    int64_t messages_maturity_days;
    int64_t messages_interval; /* seconds between scheduler runs */
    char *messages_templates;  /* folder of replacement templates; "" = none */
    /* [campaigns] */
    int64_t campaigns_sleeping_days;  /* no transaction for this long: sleeping */
    char *campaigns_festivals;        /* as given */
    unsigned campaigns_festival_mask; /* bit i: core/campaign.h festival i */
    /* [hq]: this branch's sync with HQ */
    char *hq_url;    /* "" = no sync */
    char *hq_device; /* this daemon's device id at HQ */
    char *hq_secret; /* its secret (signs every request) */
    char *hq_ca_file;
    int64_t hq_batch; /* entries per push */
    char *hq_gzip;    /* on, off */
    int64_t hq_interval;
    int64_t hq_timeout;     /* seconds per request */
    int64_t hq_max_backoff; /* seconds: the longest wait after failed rounds */
    /* [hqserver]: kioskd hq, the reference HQ server */
    char *hqserver_listen;
    char hqserver_host[64];
    int hqserver_port;
    char *hqserver_cert;
    char *hqserver_key;
    char *hqserver_database;
    char *hqserver_database_url; /* PostgreSQL instead of SQLite when not empty */
    char *hqserver_key_file;
    char *hqserver_ticket_key_file;
    char *hqserver_admin_token;
    int64_t hqserver_window; /* seconds */
};

/* Loads defaults, then the INI file (NULL: none), then the environment.
 * Returns 0, or KIOSKD_ECONFIG with a message naming file, line and key in err. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Refuses ([section] cert/key) an unreadable or unparsable certificate or key,
 * or a key that is not the certificate's; none given: 0. */
int config_check_tls(const char *section, const char *cert, const char *key, char *err,
                     size_t errlen);
/* Frees the strings of c. */
void config_free(struct config *c);
/* Writes every option with its effective value (secrets hidden) as INI. */
void config_dump(const struct config *c, FILE *out);
/* Writes the option table as a Markdown table (docs/config.md). */
void config_doc(FILE *out);

#endif
