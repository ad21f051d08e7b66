/*
 * `kioskd serve --demo`: on first start, a demo database with upcoming
 * events and two staff accounts, so that a new user can try the kiosk and the
 * tablet at once. Synthetic data only.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/pin.h"
#include "core/status.h"
#include "core/timefmt.h"
#include "daemon/app.h"
#include "store/events.h"
#include "store/staff.h"

#define DEMO_STAFF_PIN "246810"
#define DEMO_MANAGER_PIN "135790"

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
        if (rc)
            return rc;
    }
    printf("kioskd demo is running\n"
           "  kiosk:   %s://%s:%d/\n"
           "  staff:   %s://%s:%d/staff\n"
           "  health:  %s://%s:%d/healthz\n"
           "  staff logins (工号 / PIN): S001 / %s (staff), M001 / %s (manager)\n"
           "Stop with Ctrl-C.\n",
           scheme, k->cfg.http_host, k->port, scheme, k->cfg.http_host, k->port, scheme,
           k->cfg.http_host, k->port, DEMO_STAFF_PIN, DEMO_MANAGER_PIN);
    fflush(stdout);
    return 0;
}
