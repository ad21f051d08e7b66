-- What branches' pushes become for the other branches (docs/sync.md): a
-- device's ticket key (kind key), the sign-ups it took (kind signup) and its
-- cancellations (kind revocation). A change made from a device's push names
-- that device, and is not served back to it. A change of one event (a
-- sign-up) names it, and is served only to the devices that hold that event.
ALTER TABLE hq_changes ADD COLUMN device TEXT;
ALTER TABLE hq_changes ADD COLUMN event_id INTEGER;

-- The events each device holds, from the event_created entries it pushed.
CREATE TABLE hq_device_events (
    device   TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (device, event_id)
);

-- Sign-ups by event and phone, for the merge rule: a sign-up HQ already has
-- from another device for the same event and phone stands, and a later one
-- refers to it (merged_into). phone_hash is a keyed hash under HQ's key
-- (hex), so the phone is never stored in clear here either.
CREATE TABLE hq_signups (
    kid         TEXT NOT NULL,
    signup_id   BIGINT NOT NULL,
    device      TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    phone_hash  TEXT NOT NULL,
    merged_into TEXT,                        -- kid:signup_id of the first one
    PRIMARY KEY (kid, signup_id)
);
CREATE INDEX hq_signups_event_phone ON hq_signups(event_id, phone_hash);
