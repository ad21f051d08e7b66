/*
 * The points ledger: earnings, reversals, redemptions, transfers, expiry and
 * the reads of a member's points. The rules of the ledger are written at the
 * top of store/migrations/0009_points.sql; the invariants are:
 *  1. Lines are only ever appended.
 *  2. members.balance = the sum of the member's lines (same savepoint).
 *  3. What is left of a lot (a positive line) is between 0 and its delta;
 *     no balance is ever below zero (a trigger refuses it too).
 *  4. Spending, transfers and expiry draw from lots oldest expiry first, and
 *     a transfer gives the receiver lots with the expiries it drew.
 * kioskd check recomputes 2 and 3 from the lines.
 */
#ifndef KIOSKD_STORE_LEDGER_H
#define KIOSKD_STORE_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "store/members.h"
#include "store/store.h"

/* The points rules a job carries ([points] and [tiers] trial_days). */
struct points_rules {
    int64_t checkin_bonus, referral_bonus, per_10k;
    int expiry_years;
};

#define POINTS_TEXT_MAX 100 /* characters of a redemption's item or a transfer's note */

/* Redeems points of member_no for an item. With from_household the member's
 * household pays, oldest expiry first across its members, each line against
 * the member whose points it spends. Lapsed points expire first. Refusals:
 * WHY_MEMBER_NOT_FOUND, WHY_NO_HOUSEHOLD, WHY_POINTS_SHORT. */
struct store_points_redeem {
    struct store_job job;
    char member_no[MEMBER_NO_MAX + 1];
    int64_t points;
    bool from_household;
    char item[POINTS_TEXT_MAX * 4 + 1];
    struct store_actor by;
    /* out */
    int64_t op_id;
    int64_t balance, household_balance;
};
void store_points_redeem_init(struct store_points_redeem *j);

/* Transfers points between two members (a manager's act): the receiver gets
 * each point with the expiry it had. Refusals: WHY_MEMBER_NOT_FOUND,
 * WHY_SAME_MEMBER, WHY_POINTS_SHORT. */
struct store_points_transfer {
    struct store_job job;
    char from[MEMBER_NO_MAX + 1], to[MEMBER_NO_MAX + 1];
    int64_t points;
    char note[POINTS_TEXT_MAX * 4 + 1];
    struct store_actor by;
    /* out */
    int64_t op_id;
    int64_t from_balance, to_balance;
    bool to_missing; /* WHY_MEMBER_NOT_FOUND: it was `to` that is unknown */
};
void store_points_transfer_init(struct store_points_transfer *j);

/* Expires every lot whose last day is before today (China date of the job's
 * time): one expiry line per lot with points left. One audit line when any. */
struct store_points_expire {
    struct store_job job;
    /* out */
    int64_t lines, points;
};
void store_points_expire_init(struct store_points_expire *j);

/* One ledger line as a lookup shows it. */
struct store_points_line {
    int64_t id, delta, at_us;
    char reason[16];
    char expires_on[11];
    char note[POINTS_TEXT_MAX * 4 + 1]; /* reason hq: HQ's reason; else "" */
};

#define POINTS_LINES_SHOWN 20

/* What a lookup shows beyond the member: the last POINTS_LINES_SHOWN lines,
 * newest first, and the points left that expire by the end of this year
 * (today's year, China). Loop only. Returns 0 or a KIOSKD_E* code. */
struct store_points_view {
    struct store_points_line lines[POINTS_LINES_SHOWN];
    int nlines;
    int64_t expiring_this_year;
};
int store_points_view(struct store *s, int64_t member_id, const char *today,
                      struct store_points_view *out);

#endif
