-- The chat bot: one-time bind codes, who is bound to which member, wrong
-- codes per chat identity, the replies given to each delivery (so that a
-- delivery seen again gets the same reply and changes nothing), and commands
-- per group per day. Chat identities (a WeChat openid, a bridge's sender id)
-- are kept only as keyed hashes (HMAC-SHA256 with the personal-data key).

-- attempts: wrong codes sent for this member's phone, from any sender; the
-- code is burnt at BIND_CODE_ATTEMPTS (store/bot.c), so many senders together
-- cannot guess it either.
CREATE TABLE bind_codes (
    member_id  INTEGER PRIMARY KEY REFERENCES members(id),
    code_hash  BLOB NOT NULL CHECK (length(code_hash) = 32),
    expires_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE bot_bindings (
    identity_hash BLOB PRIMARY KEY CHECK (length(identity_hash) = 32),
    channel       TEXT NOT NULL CHECK (channel IN ('wechat', 'bridge')),
    member_id     INTEGER NOT NULL REFERENCES members(id),
    bound_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX bot_bindings_member ON bot_bindings(member_id);

CREATE TABLE bind_failures (
    identity_hash BLOB PRIMARY KEY CHECK (length(identity_hash) = 32),
    failures      INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    last_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE bot_deliveries (
    key_hash BLOB PRIMARY KEY CHECK (length(key_hash) = 32),
    reply    TEXT NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX bot_deliveries_at ON bot_deliveries(at);

CREATE TABLE bot_group_stats (
    group_id TEXT NOT NULL CHECK (length(group_id) BETWEEN 1 AND 64),
    day      TEXT NOT NULL CHECK (day GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    commands INTEGER NOT NULL,
    PRIMARY KEY (group_id, day)
) STRICT;
