/*
 * `kioskd serve --demo`: on first start, a demo database with upcoming
 * events, two staff accounts, products with their coefficients and 20,000
 * members in the tier mix of a typical branch (91% 长尾, 6% 潜力, 2.5% 中高端,
 * 0.5% 财私), so that a new user can try the kiosk, the tablet, lookups and
 * upgrades at once. Synthetic data only: generated names, and phones in one
 * block (13800000000 + n) that the banner names one of.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/pin.h"
#include "core/status.h"
#include "core/tier.h"
#include "core/timefmt.h"
#include "daemon/app.h"
#include "daemon/cli.h"
#include "store/events.h"
#include "store/members.h"
#include "store/products.h"
#include "store/staff.h"

#define DEMO_STAFF_PIN "246810"
#define DEMO_MANAGER_PIN "135790"
#define DEMO_MEMBERS 20000
#define DEMO_PHONE_BASE 13800000000LL
/* The member the banner names: one of the potential tier (n % 200 in 182..193). */
#define DEMO_SHOWN 182

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

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
static const char *const given[] = {"伟", "芳", "娜", "秀英", "敏", "静", "丽",  "强",
                                    "磊", "军", "洋", "勇",   "艳", "杰", "娟",  "涛",
                                    "明", "超", "霞", "秀兰", "平", "刚", "桂英"};

struct demo_members {
    struct kioskd *k;
    struct tier_lines lines;
    int n;
};

/* The synthetic name of member n into out. */
static void demo_name(int n, char *out, size_t len)
{
    snprintf(out, len, "%s%s", surnames[n % 20], given[(n / 20) % 23]);
}

/* AUM in fen for member n: the tier by n % 200 (182 of 200 长尾, 12 潜力, 5
 * 中高端, 1 财私), the amount spread within the tier. */
static int64_t demo_aum(const struct tier_lines *t, int n)
{
    uint64_t h = (uint64_t)n * 2654435761u % 1000003u;
    int r = n % 200;
    if (r < 182)
        return (int64_t)(h * (uint64_t)t->potential / 1000003u);
    if (r < 194)
        return t->potential + (int64_t)(h * (uint64_t)(t->midhigh - t->potential) / 1000003u);
    if (r < 199)
        return t->midhigh + (int64_t)(h * (uint64_t)(t->private_line - t->midhigh) / 1000003u);
    return t->private_line + (int64_t)(h * (uint64_t)t->private_line / 1000003u);
}

static int next_member(void *arg, struct store_member *m)
{
    struct demo_members *d = arg;
    if (d->n == DEMO_MEMBERS)
        return 0;
    int n = d->n++;
    char no[16], name[32], phone[16], birthday[24], household[16];
    snprintf(no, sizeof no, "D%05d", n + 1);
    demo_name(n, name, sizeof name);
    snprintf(phone, sizeof phone, "%lld", DEMO_PHONE_BASE + n);
    snprintf(birthday, sizeof birthday, "%d-%02d-%02d", 1950 + n % 50, 1 + n % 12, 1 + n % 28);
    snprintf(household, sizeof household, "DH%d", n / 50);
    return import_member_seal(d->k, &d->lines,
                              &(struct member_fields){.member_no = no,
                                                      .name = name,
                                                      .phone = phone,
                                                      .aum_fen = demo_aum(&d->lines, n),
                                                      .birthday = birthday,
                                                      .household = n % 50 < 2 ? household : NULL},
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

int demo_prepare(struct kioskd *k, const char *scheme)
{
    int rc = 0;
    if (store_events_count(k->store) == 0) {
        int64_t now = (int64_t)time(NULL);
        struct store_event evs[5];
        /* starts within the hour so that check-in is already open */
        set_event(&evs[0], "客户财富升级会（今日场）", "upgrade", (now / 60 + 45) * 60, 40,
                  "本网点二楼贵宾室", 10);
        set_event(&evs[1], "客户财富升级会", "upgrade", china_at(now, 1, 14, 0), 40,
                  "本网点二楼贵宾室", 10);
        set_event(&evs[2], "客户财富升级会", "upgrade", china_at(now, 3, 10, 0), 40,
                  "本网点二楼贵宾室", 10);
        set_event(&evs[3], "理财沙龙：稳健配置与养老规划", "salon", china_at(now, 4, 15, 0), 60,
                  "本网点一楼理财室", 30);
        set_event(&evs[4], "社区健康讲座", "community", china_at(now, 6, 9, 30), 90,
                  "幸福里社区活动中心", 80);
        describe(&evs[0], "了解如何升级为中高端客户，现场可办理；免费，约40分钟");
        describe(&evs[1], "了解如何升级为中高端客户，现场可办理；免费，约40分钟");
        describe(&evs[2], "了解如何升级为中高端客户，现场可办理；免费，约40分钟");
        describe(&evs[3], "理财经理讲解稳健配置和养老规划，可现场提问；免费，约1小时");
        describe(&evs[4], "社区医生讲解常见慢病的日常保健，可免费量血压；约1个半小时");
        struct store_events_create j;
        memset(&j, 0, sizeof j);
        store_events_create_init(&j);
        j.evs = evs;
        j.n = 5;
        store_actor_set(&j.by, NULL, "demo");
        rc = store_run(k->store, &j.job);
        if (rc == 0)
            rc = add_staff(k, "S001", "Demo Staff", "staff", DEMO_STAFF_PIN);
        if (rc == 0)
            rc = add_staff(k, "M001", "Demo Manager", "manager", DEMO_MANAGER_PIN);
        if (rc == 0)
            rc = add_products_and_members(k);
        if (rc)
            return rc;
    }
    char shown[32];
    demo_name(DEMO_SHOWN, shown, sizeof shown);
    printf("kioskd demo is running\n"
           "  kiosk:   %s://%s:%d/\n"
           "  staff:   %s://%s:%d/staff\n"
           "  health:  %s://%s:%d/healthz\n"
           "  staff logins (工号 / PIN): S001 / %s (staff), M001 / %s (manager)\n"
           "  demo members: D00001-D%05d, phones %lld-%lld (synthetic); try member D%05d,\n"
           "    %s, phone %lld (潜力): sign up with it at the kiosk, check in on the tablet,\n"
           "    then register an upgrade and approve it as the manager\n"
           "Stop with Ctrl-C.\n",
           scheme, k->cfg.http_host, k->port, scheme, k->cfg.http_host, k->port, scheme,
           k->cfg.http_host, k->port, DEMO_STAFF_PIN, DEMO_MANAGER_PIN, DEMO_MEMBERS,
           DEMO_PHONE_BASE, DEMO_PHONE_BASE + DEMO_MEMBERS - 1, DEMO_SHOWN + 1, shown,
           DEMO_PHONE_BASE + DEMO_SHOWN);
    fflush(stdout);
    return 0;
}
