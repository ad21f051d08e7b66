-- A chat reply that missed WeChat's 5 seconds (kind chat_reply, channel
-- wechat) goes later as a customer-service message. Unlike the other kinds it
-- carries its recipient and text itself: openid_enc, the sender's openid
-- sealed (aad "openid"), and body, the reply. dedup_key is
-- chat_reply:<the delivery's keyed hash>, so one delivery queues one reply.
-- SQLite cannot change a CHECK in place: the table is rebuilt.
CREATE TABLE messages_new (
    id            INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE CHECK (length(uid) = 32),
    dedup_key     TEXT NOT NULL UNIQUE CHECK (length(dedup_key) BETWEEN 1 AND 200),
    kind          TEXT NOT NULL CHECK (kind IN ('confirmation', 'day_before', 'two_hours',
                      'thank_you', 'no_show', 'birthday', 'maturity', 'points',
                      'staff_summary', 'ticket_link', 'chat_reply')),
    channel       TEXT NOT NULL CHECK (channel IN ('sms', 'log', 'wecom', 'wechat')),
    transactional INTEGER NOT NULL CHECK (transactional IN (0, 1)),
    signup_id     INTEGER REFERENCES signups(id),
    event_id      INTEGER REFERENCES events(id),
    member_id     INTEGER REFERENCES members(id),
    maturity_id   INTEGER REFERENCES maturities(id),
    person_hash   BLOB CHECK (person_hash IS NULL OR length(person_hash) = 32),
    slot          TEXT NOT NULL,
    due_at        INTEGER NOT NULL,
    next_at       INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    status        TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
    last_error    TEXT,
    parts         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    claimed_at    INTEGER, -- the last time it was handed to its channel
    sent_at       INTEGER,
    openid_enc    BLOB,    -- chat_reply only
    body          TEXT CHECK (body IS NULL OR length(body) <= 2048), -- chat_reply only
    CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CHECK (person_hash IS NOT NULL OR channel IN ('wecom', 'log')),
    CHECK ((kind = 'chat_reply') = (body IS NOT NULL AND openid_enc IS NOT NULL))
) STRICT;
INSERT INTO messages_new(id, uid, dedup_key, kind, channel, transactional, signup_id, event_id,
                         member_id, maturity_id, person_hash, slot, due_at, next_at, attempts,
                         status, last_error, parts, created_at, claimed_at, sent_at)
    SELECT id, uid, dedup_key, kind, channel, transactional, signup_id, event_id, member_id,
           maturity_id, person_hash, slot, due_at, next_at, attempts, status, last_error, parts,
           created_at, claimed_at, sent_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_due ON messages(next_at) WHERE status = 'queued';
CREATE INDEX messages_sending ON messages(status) WHERE status = 'sending';
CREATE INDEX messages_person_day ON messages(person_hash, claimed_at)
    WHERE transactional = 0 AND person_hash IS NOT NULL;
CREATE INDEX messages_channel_claimed ON messages(channel, claimed_at);
CREATE INDEX messages_status_kind ON messages(status, kind, id);
