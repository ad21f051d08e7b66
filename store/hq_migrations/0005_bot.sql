-- The chat bot at HQ (docs/wechat.md, "The bot at HQ"): a bank's Official
-- Account has one public URL, so `kioskd hq` answers /wechat and the JSON
-- bridge from HQ's data. Chat identities, delivery keys and bind codes are
-- keyed hashes under HQ's key (hex): no openid is kept here.
--
-- One-time bind codes (`kioskd hq bind-code MEMBER_NO`), as a branch's staff
-- give them: a member proves the phone HQ has for it and the code.
CREATE TABLE hq_bot_codes (
    code_hash  TEXT PRIMARY KEY CHECK (length(code_hash) = 64),
    member_no  TEXT NOT NULL,
    expires_at INTEGER NOT NULL              -- unix seconds
);
CREATE INDEX hq_bot_codes_member ON hq_bot_codes(member_no);

-- A chat identity bound to a member (member_no NULL: not bound), and its
-- wrong codes in a row, which lock binding for a while.
CREATE TABLE hq_bot_bindings (
    identity_hash TEXT PRIMARY KEY CHECK (length(identity_hash) = 64),
    member_no     TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0, -- unix seconds
    at            INTEGER NOT NULL            -- unix seconds of the last change
);

-- The reply given to each delivery (WeChat's MsgId, the bridge's msg_id):
-- the same delivery again gets it and changes nothing, whichever HQ process
-- it reaches. Kept a day.
CREATE TABLE hq_bot_deliveries (
    key_hash TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
    reply    TEXT NOT NULL,
    at       INTEGER NOT NULL                 -- unix seconds
);
CREATE INDEX hq_bot_deliveries_at ON hq_bot_deliveries(at);

-- The numbers the bot gives HQ's events (活动, 报名 N), one per event key
-- (hq_device_events.key), stable while the event lasts.
CREATE TABLE hq_bot_events (
    no        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT NOT NULL UNIQUE
);

-- 活动 reads the events a branch created from its entries: indexes of those
-- entries only, so that pushes of every other kind pay nothing for them.
CREATE INDEX hq_entries_event_created ON hq_entries(device) WHERE kind = 'event_created';
CREATE INDEX hq_entries_event_cancelled ON hq_entries(device) WHERE kind = 'event_cancelled';

-- 积分 at HQ: every points line a member has, by member, so that a member's
-- points are one indexed sum: HQ's balance lines (line_key "hq/ID", kept as
-- their latest import) and the lines of the branches' points entries
-- ("DEVICE/LINE_ID", never changed). Filled by the bot as it reads, from a
-- cursor per source: a device's acked_through (entries up to it are all
-- stored and never change) and, under the source '*changes', hq_changes'
-- seq. Writing a line twice writes the same: two HQ processes may both.
CREATE TABLE hq_bot_lines (
    line_key  TEXT PRIMARY KEY,
    member_no TEXT NOT NULL,
    points    INTEGER NOT NULL
);
CREATE INDEX hq_bot_lines_member ON hq_bot_lines(member_no);
CREATE TABLE hq_bot_cursors (
    source  TEXT PRIMARY KEY,
    through INTEGER NOT NULL
);
