/*
 * Why the store refused a job: every rule of the domain that can refuse a
 * change, as one enum. A job that refuses sets job->why and returns
 * KIOSKD_EREFUSED (store_refuse); the answer a client gets for each reason
 * (status, code, message) is mapped in one place, daemon/refusal.c.
 * Read paths and route rows name the same reasons for their not-found answers.
 * Appended to, never renumbered.
 */
#ifndef KIOSKD_STORE_WHY_H
#define KIOSKD_STORE_WHY_H

enum store_why {
    WHY_NONE = 0,
    WHY_NOT_FOUND,            /* no such resource (a route with no more specific reason) */
    WHY_EVENT_NOT_FOUND,      /* no such event */
    WHY_SIGNUP_NOT_FOUND,     /* no such sign-up (for this event) */
    WHY_CHECKIN_NOT_FOUND,    /* no such check-in */
    WHY_STAFF_NOT_FOUND,      /* no such staff member */
    WHY_TICKET_NOT_FOUND,     /* a ticket image for no sign-up we know */
    WHY_SESSION_NOT_FOUND,    /* the session was revoked meanwhile */
    WHY_EVENT_CANCELLED,      /* the event was cancelled */
    WHY_SIGNUPS_CLOSED,       /* the event is over: no more sign-ups */
    WHY_CHECKIN_NOT_OPEN,     /* before the check-in window ([events] checkin_opens) */
    WHY_CHECKIN_CLOSED,       /* after the event's end */
    WHY_WRONG_EVENT,          /* the ticket is for another event than the tablet's */
    WHY_WAITLISTED,           /* the guest holds no place */
    WHY_BAD_TICKET,           /* the code is forged, altered or not a ticket */
    WHY_UNKNOWN_TICKET,       /* a well-signed ticket for a sign-up this store lacks */
    WHY_TICKET_CANCELLED,     /* the ticket's sign-up was cancelled */
    WHY_TICKET_REPLACED,      /* a newer ticket was issued for the sign-up */
    WHY_SIGNUP_CANCELLED,     /* check-in by phone of a cancelled sign-up */
    WHY_ALREADY_CANCELLED,    /* cancelling a cancelled sign-up */
    WHY_CHECKED_IN,           /* cancelling a sign-up with a check-in in force */
    WHY_ALREADY_UNDONE,       /* undoing an undone check-in */
    WHY_NO_SIGNUP,            /* check-in by phone: no sign-up with it */
    WHY_STAFF_EXISTS,         /* adding a staff id that exists */
    WHY_ALREADY_SIGNED_UP,    /* the phone holds a sign-up for the event under another name */
    WHY_SIGNUP_LIMIT,         /* the phone holds the most sign-ups allowed in events not ended */
    WHY_NO_CODE,              /* check-in by short code: no sign-up of the event has it */
    WHY_MEMBER_NOT_FOUND,     /* no member with this number or phone */
    WHY_POINTS_SHORT,         /* the balance (or household pool) is short of the points asked */
    WHY_POINTS_SPENT,         /* undoing a check-in whose points were spent meanwhile */
    WHY_NO_HOUSEHOLD,         /* a household redemption by a member in no household */
    WHY_SAME_MEMBER,          /* a transfer from a member to the same member */
    WHY_UPGRADE_NOT_FOUND,    /* no such upgrade registration */
    WHY_UPGRADE_DECIDED,      /* approving or rejecting one already approved or rejected */
    WHY_UPGRADE_NOT_APPROVED, /* recording the arrival of assets of an upgrade not approved */
    WHY_ALREADY_ARRIVED,      /* the assets of this upgrade were recorded already */
    WHY_NOT_A_MEMBER,         /* an upgrade for a guest whose phone is no member's */
    WHY_NOT_CHECKED_IN,       /* an upgrade for a sign-up with no check-in in force */
    WHY_PRODUCT_NOT_FOUND,    /* a product code the products table lacks */
    WHY_MEMBER_CHANGED,       /* the member's AUM changed while the arrival was prepared */
    WHY_MESSAGE_NOT_FOUND,    /* no such message */
    WHY_MESSAGE_NOT_FAILED,   /* a retry of a message that is not failed (queued, sent...) */
    WHY_TICKET_SMS_LIMIT,     /* the ticket link was sent to this sign-up's phone enough times */
    WHY_TICKET_SMS_LATE,      /* the ticket link by SMS is offered only just after the sign-up */
    WHY_SMS_OFF,              /* the ticket link by SMS asked of a daemon that sends no SMS */
    WHY_EVENT_ELSEWHERE,      /* signing up or checking in here for another branch's event */
    WHY_CAMPAIGN_NOT_FOUND,   /* no such campaign */
    WHY_NOT_INVITED,          /* a member not in the campaign's audience */
    WHY_CALLS_NOT_DUE,        /* the campaign's call step has not come (or it has none) */
    WHY_TICKET_UNVERIFIED,    /* a check-in by ticket digest for a ticket with none kept: the
                                 caller verifies its signature and submits again (never answered) */
    WHY_COUNT
};

#endif
