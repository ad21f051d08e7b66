/*
 * The one table from the store's refusal reasons (store/why.h) to answers:
 * status, the contract's error code, and the message. Every handler and the
 * dispatcher answer a refusal through req_refuse, so one reason always gets
 * the same answer.
 */
#include <stdio.h>

#include "core/status.h"
#include "daemon/http.h"

static const struct refusal {
    int status;
    const char *code;
    const char *message; /* NULL: formatted by refusal_message */
} refusals[WHY_COUNT] = {
    [WHY_NONE] = {500, "internal", "refused for no stated reason"},
    [WHY_NOT_FOUND] = {404, "not_found", "no such resource"},
    [WHY_EVENT_NOT_FOUND] = {404, "event_not_found", "no such event"},
    [WHY_SIGNUP_NOT_FOUND] = {404, "signup_not_found", "no such sign-up"},
    [WHY_CHECKIN_NOT_FOUND] = {404, "checkin_not_found", "no such check-in"},
    [WHY_STAFF_NOT_FOUND] = {404, "staff_not_found", "no such staff member"},
    [WHY_TICKET_NOT_FOUND] = {404, "ticket_not_found", "no such ticket"},
    [WHY_SESSION_NOT_FOUND] = {404, "not_found", "this session has ended already"},
    [WHY_EVENT_CANCELLED] = {410, "event_cancelled", "this event was cancelled"},
    [WHY_SIGNUPS_CLOSED] = {410, "event_over", "this event is over; sign-ups are closed"},
    [WHY_CHECKIN_NOT_OPEN] = {409, "not_open_yet", NULL},
    [WHY_CHECKIN_CLOSED] = {409, "event_over", "this event is over"},
    [WHY_WRONG_EVENT] = {409, "wrong_event", "this ticket is for another event"},
    [WHY_WAITLISTED] = {409, "waitlisted",
                        "this guest is on the waitlist; admit them as a walk-in if there is room"},
    [WHY_BAD_TICKET] = {403, "bad_ticket", "this is not a valid ticket"},
    [WHY_UNKNOWN_TICKET] = {403, "bad_ticket", "this ticket is not known here"},
    [WHY_TICKET_CANCELLED] = {410, "ticket_cancelled", "this ticket was cancelled"},
    [WHY_TICKET_REPLACED] = {410, "ticket_replaced", "this ticket was replaced by a newer one"},
    [WHY_SIGNUP_CANCELLED] = {410, "signup_cancelled", "this sign-up was cancelled"},
    [WHY_ALREADY_CANCELLED] = {410, "already_cancelled", "this sign-up is already cancelled"},
    [WHY_CHECKED_IN] = {409, "checked_in", "undo the check-in before cancelling"},
    [WHY_ALREADY_UNDONE] = {409, "already_undone", "this check-in was already undone"},
    [WHY_NO_SIGNUP] = {404, "no_signup", "no sign-up with this phone for this event"},
    [WHY_STAFF_EXISTS] = {409, "staff_exists", "that staff id exists already"},
    [WHY_ALREADY_SIGNED_UP] = {409, "already_signed_up",
                               "this phone is signed up for this event under another name; "
                               "staff at the branch can help"},
    [WHY_SIGNUP_LIMIT] = {409, "signup_limit", NULL},
    [WHY_NO_CODE] = {404, "no_signup", "no sign-up with this code for this event"},
    [WHY_MESSAGE_NOT_FOUND] = {404, "message_not_found", "no such message"},
    [WHY_MESSAGE_NOT_FAILED] = {409, "message_not_failed", "only a failed message can be retried"},
    [WHY_TICKET_SMS_LIMIT] = {429, "ticket_sms_limit", "the ticket was already sent to this phone"},
    [WHY_TICKET_SMS_LATE] = {410, "ticket_sms_closed",
                             "the ticket can be sent by SMS only just after signing up"},
    [WHY_SMS_OFF] = {404, "sms_off", "this kiosk does not send SMS"},
    [WHY_EVENT_ELSEWHERE] = {409, "event_at_other_branch",
                             "this event takes place at another branch; sign up there"},
    [WHY_CAMPAIGN_NOT_FOUND] = {404, "campaign_not_found", "no such campaign"},
    [WHY_NOT_INVITED] = {404, "not_invited", "this member is not in the campaign's audience"},
    [WHY_CALLS_NOT_DUE] = {409, "calls_not_due", "the campaign's call step has not come yet"},
    [WHY_MEMBER_NOT_FOUND] = {404, "member_not_found", "no such member"},
    [WHY_POINTS_SHORT] = {409, "insufficient_points", "the balance is short of these points"},
    [WHY_POINTS_SPENT] = {409, "points_spent",
                          "the points this check-in earned have been spent; it cannot be undone"},
    [WHY_NO_HOUSEHOLD] = {409, "no_household", "this member belongs to no household"},
    [WHY_SAME_MEMBER] = {422, "same_member", "points cannot be transferred to the same member"},
    [WHY_UPGRADE_NOT_FOUND] = {404, "upgrade_not_found", "no such upgrade registration"},
    [WHY_UPGRADE_DECIDED] = {409, "already_decided",
                             "this upgrade registration was approved or rejected already"},
    [WHY_UPGRADE_NOT_APPROVED] = {409, "not_approved", "this upgrade registration is not approved"},
    [WHY_ALREADY_ARRIVED] = {409, "already_arrived",
                             "the assets of this upgrade were recorded already"},
    [WHY_NOT_A_MEMBER] = {409, "not_a_member", "this guest's phone belongs to no member"},
    [WHY_NOT_CHECKED_IN] = {409, "not_checked_in", "this guest is not checked in"},
    [WHY_PRODUCT_NOT_FOUND] = {422, "product_not_found", "no such product"},
    [WHY_MEMBER_CHANGED] = {409, "member_changed",
                            "the member's record changed meanwhile; try again"},
};

/* "2 hours", "90 minutes", "1 day 2 hours": a duration in seconds for a message. */
static void duration_text(int64_t s, char *out, size_t n)
{
    if (s % 3600 == 0 && s >= 3600)
        snprintf(out, n, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
    else if (s % 60 == 0 && s >= 60)
        snprintf(out, n, "%lld minute%s", (long long)(s / 60), s == 60 ? "" : "s");
    else
        snprintf(out, n, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

const char *refusal_message(const struct kioskd *k, enum store_why why, char *buf, size_t n)
{
    if ((int)why < 0 || why >= WHY_COUNT || !refusals[why].code)
        why = WHY_NONE;
    if (refusals[why].message)
        return refusals[why].message;
    if (why == WHY_SIGNUP_LIMIT) {
        snprintf(buf, n,
                 "this phone is signed up for %lld upcoming events already, the most allowed; "
                 "cancel one to sign up for another",
                 (long long)k->cfg.kiosk_signups_per_phone);
        return buf;
    }
    /* WHY_CHECKIN_NOT_OPEN: says what [events] checkin_opens says */
    char d[48];
    duration_text(k->cfg.events_checkin_opens, d, sizeof d);
    snprintf(buf, n, "check-in opens %s before the event starts", d);
    return buf;
}

void req_refuse_with(struct req *r, enum store_why why, json_t *details)
{
    char buf[160];
    if ((int)why < 0 || why >= WHY_COUNT || !refusals[why].code)
        why = WHY_NONE;
    const char *message = refusal_message(r->k, why, buf, sizeof buf);
    json_t *err = json_pack("{s:s, s:s}", "code", refusals[why].code, "message", message);
    if (err && json_is_object(details)) {
        json_object_del(details, "code");
        json_object_del(details, "message");
        json_object_update(err, details);
    }
    json_decref(details);
    req_json(r, refusals[why].status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void req_refuse(struct req *r, enum store_why why)
{
    req_refuse_with(r, why, NULL);
}

int refusal_status(enum store_why why)
{
    if ((int)why < 0 || why >= WHY_COUNT || !refusals[why].code)
        return 500;
    return refusals[why].status;
}

void req_job_failed(struct req *r, const struct store_job *job)
{
    if (job->rc == KIOSKD_EREFUSED)
        req_refuse(r, job->why);
    else
        req_fail(r, job->rc);
}
