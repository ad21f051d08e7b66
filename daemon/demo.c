/*
 * `kioskd serve --demo`: on first start, a demo database under ./var/demo/
 * with four weeks of events (one starting within the hour), two staff
 * accounts, products with their coefficients, 20,000 members in the tier mix
 * of a typical branch (91% 长尾, 6% 潜力, 2.5% 中高端, 0.5% 财私) and a
 * campaign for the next upgrade meeting, so that a new user can try the
 * kiosk, the tablet, lookups, upgrades, campaigns and the chat bot at once.
 * Synthetic data only: names from a seeded generator (the same seed gives
 * the same members), and phones in one block (13800000000 + n) that the
 * banner names one of. Every write goes through the store's jobs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/pin.h"
#include "core/points.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/timefmt.h"
#include "daemon/app.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "handlers/common.h"
#include "store/bot.h"
#include "store/campaigns.h"
#include "store/checkins.h"
#include "store/events.h"
#include "store/members.h"
#include "store/products.h"
#include "store/signups.h"
#include "store/staff.h"

#define DEMO_STAFF_PIN "246810"
#define DEMO_MANAGER_PIN "135790"
#define DEMO_MEMBERS 20000
#define DEMO_PHONE_BASE 13800000000LL
/* The member the banner names: one of the potential tier (n % 200 in 182..193). */
#define DEMO_SHOWN 182
#define DEMO_EVENTS_MAX 24
#define DEMO_INVITED 300 /* the campaign's audience: a few hundred for ten seats */
#define DEMO_BIND_CODE "482916"
#define DEMO_BOT_FROM "demo-customer"
#define DEMO_BOT_SECRET "demo-bot-secret"

/* Products and their conversion coefficients (折算系数). */
static const struct store_product demo_products[] = {
    {"DEP", "定期存款", 1000}, {"WM", "理财产品", 1500}, {"INS", "保险", 800},
    {"FUND", "基金", 800},     {"GOLD", "贵金属", 800},  {"CC", "信用卡", 500},
};

static int next_product(void *arg, struct store_product *p)
{
    size_t *i = arg;
    if (*i == sizeof demo_products / sizeof demo_products[0])
        return 0;
    *p = demo_products[(*i)++];
    return 1;
}

#define DEMO_SEED 22u

/* The seeded generator: a well-mixed 64-bit value for (member n, field f),
 * so that every member's data depends on the seed and n only (splitmix64). */
static uint64_t demo_rand(int n, unsigned f)
{
    uint64_t z = ((uint64_t)DEMO_SEED << 48) ^ ((uint64_t)f << 32) ^ (uint64_t)n;
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗",
                                       "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹"};
static const char *const given[] = {"伟", "芳", "娜", "秀", "敏", "静", "丽", "强", "磊", "军",
                                    "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "兰",
                                    "平", "刚", "英", "华", "建", "国", "红", "玉", "文", "海"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct demo_members {
    struct kioskd *k;
    struct tier_lines lines;
    int64_t today; /* unix seconds of the creation, for last transactions */
    int n;
};

/* The synthetic name of member n into out: a surname and one or two given
 * characters, from the seeded generator. */
static void demo_name(int n, char *out, size_t len)
{
    uint64_t r = demo_rand(n, 1);
    const char *g1 = given[(r >> 8) % NELEM(given)];
    if (r % 3 == 0)
        snprintf(out, len, "%s%s", surnames[(r >> 24) % NELEM(surnames)], g1);
    else
        snprintf(out, len, "%s%s%s", surnames[(r >> 24) % NELEM(surnames)], g1,
                 given[(r >> 40) % NELEM(given)]);
}

/* AUM in fen for member n: the tier by n % 200 (182 of 200 长尾, 12 潜力, 5
 * 中高端, 1 财私), the amount spread within the tier. */
static int64_t demo_aum(const struct tier_lines *t, int n)
{
    uint64_t h = demo_rand(n, 2) % 1000003u;
    int r = n % 200;
    if (r < 182)
        return (int64_t)(h * (uint64_t)t->potential / 1000003u);
    if (r < 194)
        return t->potential + (int64_t)(h * (uint64_t)(t->midhigh - t->potential) / 1000003u);
    if (r < 199)
        return t->midhigh + (int64_t)(h * (uint64_t)(t->private_line - t->midhigh) / 1000003u);
    return t->private_line + (int64_t)(h * (uint64_t)t->private_line / 1000003u);
}

/* The last transaction of member n: one in ten sleeping (181 to 720 days
 * ago), the others within the last 170 days. */
static void demo_last_txn(int64_t today, int n, char out[11])
{
    uint64_t r = demo_rand(n, 3);
    int64_t days = r % 10 == 0 ? 181 + (int64_t)((r >> 8) % 540) : (int64_t)((r >> 8) % 171);
    points_china_date(today - days * 86400, out);
}

static int next_member(void *arg, struct store_member *m)
{
    struct demo_members *d = arg;
    if (d->n == DEMO_MEMBERS)
        return 0;
    int n = d->n++;
    uint64_t r = demo_rand(n, 4);
    char no[16], name[32], phone[16], birthday[24], household[16], last_txn[11];
    snprintf(no, sizeof no, "D%05d", n + 1);
    demo_name(n, name, sizeof name);
    snprintf(phone, sizeof phone, "%lld", DEMO_PHONE_BASE + n);
    snprintf(birthday, sizeof birthday, "%d-%02d-%02d", 1945 + (int)(r % 60),
             1 + (int)((r >> 8) % 12), 1 + (int)((r >> 16) % 28));
    demo_last_txn(d->today, n, last_txn);
    /* one in ten in a household of two: members 20h and 20h+1 */
    snprintf(household, sizeof household, "DH%04d", n / 20);
    return import_member_seal(d->k, &d->lines,
                              &(struct member_fields){.member_no = no,
                                                      .name = name,
                                                      .phone = phone,
                                                      .aum_fen = demo_aum(&d->lines, n),
                                                      .birthday = birthday,
                                                      .household = n % 20 < 2 ? household : NULL,
                                                      .last_txn = last_txn},
                              m) == 0
               ? 1
               : KIOSKD_ECRYPTO;
}

/* Products and members, each through its import job. */
static int add_products_and_members(struct kioskd *k)
{
    size_t i = 0;
    struct store_products_import pj;
    store_products_import_init(&pj);
    pj.next = next_product;
    pj.arg = &i;
    store_actor_set(&pj.by, NULL, "demo");
    int rc = store_run(k->store, &pj.job);
    if (rc)
        return rc;
    struct demo_members d = {.k = k,
                             .today = (int64_t)time(NULL),
                             .lines = {.potential = k->cfg.tiers_potential * 100,
                                       .midhigh = k->cfg.tiers_midhigh * 100,
                                       .private_line = k->cfg.tiers_private * 100}};
    struct store_members_import mj;
    store_members_import_init(&mj);
    mj.next = next_member;
    mj.arg = &d;
    store_actor_set(&mj.by, NULL, "demo");
    return store_run(k->store, &mj.job);
}

/* Replaces *field by value when it is dflt (NULL: whatever it is). */
static void set_if(char **field, const char *dflt, const char *value)
{
    if (dflt && strcmp(*field, dflt) != 0)
        return;
    char *v = strdup(value);
    if (!v)
        return; /* the setting stays as it was */
    free(*field);
    *field = v;
}

/* Unix time of day `days` from today (China time) at hh:mm. */
static int64_t china_at(int64_t now, int days, int hh, int mm)
{
    int64_t local_midnight = (now + TIME_CHINA_OFFSET) / 86400 * 86400 - TIME_CHINA_OFFSET;
    return local_midnight + (int64_t)days * 86400 + hh * 3600 + mm * 60;
}

static void set_event(struct store_event *e, const char *title, const char *kind, int64_t starts,
                      int minutes, const char *venue, int capacity)
{
    memset(e, 0, sizeof *e);
    snprintf(e->title, sizeof e->title, "%s", title);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    e->starts_at = starts;
    e->ends_at = starts + minutes * 60;
    snprintf(e->venue, sizeof e->venue, "%s", venue);
    e->capacity = capacity;
}

/* The short text the kiosk shows under the title: what happens, free or
 * not, how long. */
static void describe(struct store_event *e, const char *text)
{
    snprintf(e->description, sizeof e->description, "%s", text);
}

static int add_staff(struct kioskd *k, const char *id, const char *name, const char *role,
                     const char *pin)
{
    struct store_staff_add j;
    memset(&j, 0, sizeof j);
    store_staff_add_init(&j);
    snprintf(j.staff.id, sizeof j.staff.id, "%s", id);
    snprintf(j.staff.name, sizeof j.staff.name, "%s", name);
    snprintf(j.staff.role, sizeof j.staff.role, "%s", role);
    if (pin_hash(&k->rng, pin, j.staff.pin_hash, sizeof j.staff.pin_hash) != 0)
        return KIOSKD_ECRYPTO;
    int rc = store_run(k->store, &j.job);
    return rc == KIOSKD_EREFUSED && j.job.why == WHY_STAFF_EXISTS ? 0 : rc;
}

/* The events of the next four weeks: today's upgrade meeting starting within
 * the hour (check-in is open at once), upgrade meetings every Tuesday at
 * 14:00 and Saturday at 10:00 and on Thursdays of odd weeks at 19:00
 * (capacity 10), a salon and a community event. Returns how many. */
static size_t demo_events(int64_t now, struct store_event *evs, size_t max)
{
    static const char upgrade_text[] = "了解如何升级为中高端客户，现场可办理；免费，约40分钟";
    size_t n = 0;
    set_event(&evs[n], "客户财富升级会（今日场）", "upgrade", (now / 60 + 45) * 60, 40,
              "本网点二楼贵宾室", 10);
    describe(&evs[n++], upgrade_text);
    int64_t local_day = (now + TIME_CHINA_OFFSET) / 86400;
    for (int day = 1; day <= 28 && n + 1 < max; day++) {
        int wday = (int)((local_day + day + 4) % 7); /* 1970-01-01 was a Thursday; 0 Sunday */
        if (day == 4) {
            set_event(&evs[n], "理财沙龙：稳健配置与养老规划", "salon", china_at(now, day, 15, 0),
                      60, "本网点一楼理财室", 30);
            describe(&evs[n++], "理财经理讲解稳健配置和养老规划，可现场提问；免费，约1小时");
        }
        if (day == 6) {
            set_event(&evs[n], "社区健康讲座", "community", china_at(now, day, 9, 30), 90,
                      "幸福里社区活动中心", 80);
            describe(&evs[n++], "社区医生讲解常见慢病的日常保健，可免费量血压；约1个半小时");
        }
        int hh = wday == 2 ? 14 : wday == 6 ? 10 : wday == 4 && day / 7 % 2 ? 19 : -1;
        if (hh >= 0 && n < max) {
            set_event(&evs[n], "客户财富升级会", "upgrade", china_at(now, day, hh, 0), 40,
                      "本网点二楼贵宾室", 10);
            describe(&evs[n++], upgrade_text);
        }
    }
    return n;
}

/* Binds the chat identity DEMO_BOT_FROM of the bridge to the member the
 * banner names, through the bind code and the bot's bind turn, so that the
 * banner's curl line gets that member's points. */
static int demo_bind(struct kioskd *k)
{
    char no[16], phone[16], text[64];
    snprintf(no, sizeof no, "D%05d", DEMO_SHOWN + 1);
    snprintf(phone, sizeof phone, "%lld", DEMO_PHONE_BASE + DEMO_SHOWN);
    struct store_bind_code bc;
    store_bind_code_init(&bc);
    snprintf(bc.member_no, sizeof bc.member_no, "%s", no);
    int n = snprintf(text, sizeof text, "bind:%s", DEMO_BIND_CODE);
    if (pii_hash(&k->pii, text, (size_t)n, bc.code_hash) != 0)
        return KIOSKD_ECRYPTO;
    bc.expires_at = (int64_t)time(NULL) + 600;
    store_actor_set(&bc.by, NULL, "demo");
    int rc = store_run(k->store, &bc.job);
    if (rc)
        return rc;
    static struct store_bot_turn t; /* large; the loop runs one demo at a time */
    memset(&t, 0, sizeof t);
    store_bot_turn_init(&t);
    t.op = BOT_OP_BIND;
    n = snprintf(text, sizeof text, "bridge:%s", DEMO_BOT_FROM);
    if (pii_hash(&k->pii, text, (size_t)n, t.identity_hash) != 0 ||
        pii_hash(&k->pii, phone, strlen(phone), t.phone_hash) != 0)
        return KIOSKD_ECRYPTO;
    memcpy(t.code_hash, bc.code_hash, sizeof t.code_hash);
    t.now = (int64_t)time(NULL);
    points_china_date(t.now, t.day);
    t.bind_max_failures = 5;
    t.bind_lock_seconds = 600;
    for (int i = 0; i < BOT_OUTCOMES; i++)
        t.replies[i] = "demo";
    rc = store_run(k->store, &t.job);
    return rc == 0 && t.outcome != BOT_DONE ? KIOSKD_EREFUSED : rc;
}

/* A campaign for the next upgrade meeting after today's (event_id): the
 * potential-tier members, invited by SMS (the step's time has passed, so the
 * message scheduler queues the invitations at once, on the log channel) and
 * by a call list open on the tablet. Made as the campaign handler makes it:
 * the store's candidates, then the creation job. */
static int demo_campaign(struct kioskd *k, int64_t event_id)
{
    struct campaign_filter f = {.event_id = event_id, .tiers = 2};
    struct campaign_candidate *cands = NULL;
    size_t nc = 0;
    int rc = store_campaign_candidates(k->store, &f, &cands, &nc);
    if (rc)
        return rc;
    size_t keep = nc < DEMO_INVITED ? nc : DEMO_INVITED;
    int64_t *ids = calloc(keep ? keep : 1, sizeof *ids);
    if (!ids) {
        free(cands);
        return KIOSKD_ENOMEM;
    }
    for (size_t i = 0; i < keep; i++)
        ids[i] = cands[i].id;
    free(cands);
    static struct store_campaign_create j;
    memset(&j, 0, sizeof j);
    store_campaign_create_init(&j);
    j.event_id = event_id;
    snprintf(j.name, sizeof j.name, "%s", "升级会邀请（潜力客户）");
    unsigned char rnd[CAMPAIGN_CODE_TRIES][CAMPAIGN_CODE_LEN];
    if (rng_bytes(&k->rng, rnd, sizeof rnd) != 0) {
        free(ids);
        return KIOSKD_ECRYPTO;
    }
    for (int i = 0; i < CAMPAIGN_CODE_TRIES; i++)
        campaign_code_from(rnd[i], j.codes[i]);
    j.audience = "{\"tiers\":[\"潜力\"]}";
    j.member_ids = ids;
    j.nmembers = keep;
    static const struct {
        const char *channel, *at, *template;
    } steps[] = {{"sms", "-30d", "invitation"}, {"call", "-14d", ""}};
    for (size_t i = 0; i < NELEM(steps); i++) {
        struct campaign_step *p = &j.steps[j.nsteps++];
        const char *why = NULL;
        snprintf(p->channel, sizeof p->channel, "%s", steps[i].channel);
        snprintf(p->at, sizeof p->at, "%s", steps[i].at);
        snprintf(p->template, sizeof p->template, "%s", steps[i].template);
        if (campaign_at_parse(steps[i].at, &p->offset, &why) != 0) {
            free(ids);
            return KIOSKD_EINVAL;
        }
    }
    store_actor_set(&j.by, "M001", "demo");
    rc = store_run(k->store, &j.job);
    free(ids);
    return rc;
}

/* Signs member n up for event_id at the kiosk, and checks them in when
 * checkin is set (points for the check-in, as at the door). */
static int demo_signup(struct kioskd *k, int64_t event_id, int n, bool checkin)
{
    char name[32], phone[16];
    demo_name(n, name, sizeof name);
    snprintf(phone, sizeof phone, "%lld", DEMO_PHONE_BASE + n);
    struct store_signup_new j;
    memset(&j, 0, sizeof j);
    store_signup_new_init(&j);
    if (guest_person(k, name, phone, &j.who) != 0)
        return KIOSKD_ECRYPTO;
    j.event_id = event_id;
    j.now = (int64_t)time(NULL);
    snprintf(j.source, sizeof j.source, "kiosk");
    snprintf(j.consent_version, sizeof j.consent_version, "%s", CONSENT_VERSION);
    snprintf(j.kid, sizeof j.kid, "%s", k->kid);
    int rc = store_run(k->store, &j.job);
    if (rc || !checkin)
        return rc;
    struct store_checkin c;
    memset(&c, 0, sizeof c);
    store_checkin_init(&c);
    c.method = CHECKIN_PHONE;
    c.event_id = event_id;
    memcpy(c.who.phone_hash, j.who.phone_hash, sizeof c.who.phone_hash);
    c.opens_before = k->cfg.events_checkin_opens;
    points_rules_of(k, &c.rules);
    store_actor_set(&c.by, "S001", "demo");
    snprintf(c.consent_version, sizeof c.consent_version, "%s", CONSENT_VERSION);
    snprintf(c.kid, sizeof c.kid, "%s", k->kid);
    return store_run(k->store, &c.job);
}

/* Some sign-ups: three guests already in at today's meeting (with the points
 * their check-in earned), and two to four for each later event. Members of
 * the 潜力 tier from 382 on; the banner's member is left free to try. */
static int demo_signups(struct kioskd *k, const struct store_event *evs, size_t nev)
{
    int n = 382, rc = 0;
    for (size_t i = 0; i < nev && rc == 0; i++) {
        int count = i == 0 ? 3 : 2 + (int)(demo_rand((int)i, 5) % 3);
        for (int g = 0; g < count && rc == 0; g++) {
            rc = demo_signup(k, evs[i].id, n, i == 0);
            n += n % 200 == 193 ? 189 : 1; /* stay within 潜力: n % 200 in 182..193 */
        }
    }
    return rc;
}

/* The demo's data, each part through its store job; creation is timed in
 * the log (demo_created). */
static int demo_create(struct kioskd *k)
{
    int64_t now = (int64_t)time(NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static struct store_event evs[DEMO_EVENTS_MAX];
    size_t nev = demo_events(now, evs, DEMO_EVENTS_MAX);
    struct store_events_create j;
    memset(&j, 0, sizeof j);
    store_events_create_init(&j);
    j.evs = evs;
    j.n = nev;
    store_actor_set(&j.by, NULL, "demo");
    int rc = store_run(k->store, &j.job);
    if (rc == 0)
        rc = add_staff(k, "S001", "Demo Staff", "staff", DEMO_STAFF_PIN);
    if (rc == 0)
        rc = add_staff(k, "M001", "Demo Manager", "manager", DEMO_MANAGER_PIN);
    if (rc == 0)
        rc = add_products_and_members(k);
    if (rc == 0)
        rc = demo_bind(k);
    if (rc == 0)
        rc = demo_signups(k, evs, nev);
    int64_t next_upgrade = 0;
    for (size_t i = 1; i < nev && !next_upgrade; i++)
        if (strcmp(evs[i].kind, "upgrade") == 0)
            next_upgrade = evs[i].id;
    if (rc == 0 && next_upgrade)
        rc = demo_campaign(k, next_upgrade);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == 0)
        log_info("demo_created", "events=%zu members=%d ms=%lld", nev, DEMO_MEMBERS,
                 (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    return rc;
}

void demo_configure(struct config *c)
{
    /* the default paths move under ./var/demo/; paths set by the user stay */
    set_if(&c->store_path, "./var/kioskd.db", "./var/demo/kioskd.db");
    set_if(&c->store_key_file, "./var/kioskd.key", "./var/demo/kioskd.key");
    set_if(&c->tickets_key_file, "./var/ticket-key.pem", "./var/demo/ticket-key.pem");
    /* nothing leaves the machine: messages on the log channel, no robot, no
     * WeChat template messages, no HQ sync */
    set_if(&c->messages_channel, NULL, "log");
    set_if(&c->wecom_robot_key, NULL, "");
    set_if(&c->wechat_secret, NULL, "");
    set_if(&c->hq_url, NULL, "");
    set_if(&c->bot_secret, "", DEMO_BOT_SECRET);
    /* in a terminal, the log (and the log channel's messages) would scroll
     * the banner away: it goes to a file beside the demo's database */
    if (!c->log_file[0] && isatty(STDERR_FILENO) &&
        strcmp(c->store_path, "./var/demo/kioskd.db") == 0) {
        if ((mkdir("./var", 0700) == 0 || errno == EEXIST) &&
            (mkdir("./var/demo", 0700) == 0 || errno == EEXIST))
            set_if(&c->log_file, "", "./var/demo/kioskd.log");
    }
}

int demo_prepare(struct kioskd *k, const char *scheme)
{
    if (store_events_count(k->store) == 0) {
        /* never over a branch's data: a database without events but with
         * imported products is not a fresh one */
        struct store_product *p = NULL;
        size_t np = 0;
        int rc = store_products_list(k->store, 1, &p, &np);
        free(p);
        if (rc == 0 && np > 0) {
            fprintf(stderr, "kioskd: %s already holds data: --demo only fills an empty database\n",
                    k->cfg.store_path);
            return KIOSKD_ECONFLICT;
        }
        if (rc == 0)
            rc = demo_create(k);
        if (rc)
            return rc;
    }
    char shown[32];
    const char *host = strcmp(k->cfg.http_host, "0.0.0.0") == 0 ? "127.0.0.1" : k->cfg.http_host;
    demo_name(DEMO_SHOWN, shown, sizeof shown);
    printf(
        "kioskd 演示已启动 / kioskd demo is running (%s)\n"
        "  自助机 kiosk:      %s://%s:%d/\n"
        "  员工平板 staff:    %s://%s:%d/staff\n"
        "  看板 dashboard:    %s://%s:%d/staff/stats\n"
        "  员工登录 staff logins (工号 / PIN): S001 / %s (员工 staff), M001 / %s (经理 manager)\n"
        "  演示客户 demo members: D00001-D%05d, 手机号 phones %lld-%lld (虚构 synthetic)\n"
        "  试试 try member D%05d,\n"
        "    %s, phone %lld (潜力): sign up with it at the kiosk, check in on the tablet,\n"
        "    then register an upgrade and approve it as the manager\n"
        "    用此手机号在自助机报名，在员工平板签到，登记升级并以经理身份审批\n"
        "  问聊天机器人积分 ask the chat bot for this member's points:\n"
        "    curl -s -X POST %s://%s:%d/api/v1/bot/messages -H 'Content-Type: application/json' "
        "-H 'X-Bot-Secret: %s' -d '{\"from\":\"%s\",\"text\":\"积分\"}'\n"
        "  日志 log: %s\n"
        "按 Ctrl-C 停止。Stop with Ctrl-C.\n",
        k->cfg.store_path, scheme, host, k->port, scheme, host, k->port, scheme, host, k->port,
        DEMO_STAFF_PIN, DEMO_MANAGER_PIN, DEMO_MEMBERS, DEMO_PHONE_BASE,
        DEMO_PHONE_BASE + DEMO_MEMBERS - 1, DEMO_SHOWN + 1, shown, DEMO_PHONE_BASE + DEMO_SHOWN,
        scheme, host, k->port, k->cfg.bot_secret, DEMO_BOT_FROM,
        k->cfg.log_file[0] ? k->cfg.log_file : "stderr");
    fflush(stdout);
    return 0;
}
