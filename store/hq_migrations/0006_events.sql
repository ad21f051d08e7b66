-- 活动 at HQ (docs/wechat.md, "The bot at HQ"): one row per event HQ keys
-- (the key of hq_device_events, or of an event imported at HQ), with what
-- the bot shows and when it ends, so that the events listed are those that
-- have not ended, read through an index whatever how many have. Written
-- where the entries event_created, event_linked and event_cancelled are
-- stored and where events are imported; the rows of what was stored before
-- this migration are written by the first 活动 or 报名 (store/hqbot.c: the
-- entries' JSON is read in C, the same on SQLite and PostgreSQL), which then
-- records the cursor '*events' in hq_bot_cursors.
CREATE TABLE hq_events (
    key       TEXT PRIMARY KEY,
    device    TEXT NOT NULL,              -- the branch it takes place at
    event_id  INTEGER NOT NULL DEFAULT 0, -- its id there; 0 while not linked
    title     TEXT NOT NULL,
    venue     TEXT NOT NULL,
    starts_at INTEGER NOT NULL,           -- unix seconds
    ends_at   INTEGER NOT NULL,           -- unix seconds
    cancelled INTEGER NOT NULL DEFAULT 0  -- 1: cancelled at its branch or at HQ
);
CREATE INDEX hq_events_current ON hq_events(ends_at) WHERE cancelled = 0;
CREATE INDEX hq_events_device ON hq_events(device, event_id);

-- A sign-up cancelled where it is held (its device's signup_cancelled entry
-- names its ticket: kid and the id where it was taken): the merge rule passes
-- it over, so that the same phone signing up again for the event stands, and
-- `kioskd hq export signups` shows a sign-up HQ took as cancelled. A new
-- signup entry of the same ticket (taken again at its branch) clears it.
ALTER TABLE hq_signups ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
