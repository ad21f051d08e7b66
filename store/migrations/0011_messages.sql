-- Messages to people (SMS, WeChat template messages, the log channel) and to
-- the staff's WeCom group, each recorded here before it is sent (DESIGN.md
-- section 2): a message is queued, taken for sending, then marked sent,
-- retried or failed; its uid travels with every attempt (the SMS body's id,
-- WeChat's client_msg_id) so that the far side can drop a copy.
--
-- status     meaning                                    next
-- queued     waits for next_at                          sending, skipped
-- sending    handed to a channel, the answer not known  sent, queued (retry,
--            yet (after a crash: sent again, same uid)  or a restart), failed
-- sent       the channel accepted it; never sent again
-- failed     refused for good, or max_attempts spent    queued (staff retry)
-- skipped    the person opted out before it was sent
--
-- A message names what it is about (signup, event, member, maturity) and
-- holds no personal data of its own: the recipient's phone is the sealed
-- phone of its sign-up or member, read when it is sent. dedup_key is
-- kind:subject:recipient:slot, so the scheduler may derive the same message
-- any number of times (after a restart, a clock jump) and it is queued once.
CREATE TABLE maturities (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members(id),
    product    TEXT NOT NULL CHECK (length(product) BETWEEN 1 AND 100),
    amount     INTEGER NOT NULL CHECK (amount >= 0), -- fen
    matures_on TEXT NOT NULL CHECK (matures_on GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    created_at INTEGER NOT NULL,
    UNIQUE (member_id, product, matures_on)
) STRICT;
CREATE INDEX maturities_on ON maturities(matures_on);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE CHECK (length(uid) = 32),
    dedup_key     TEXT NOT NULL UNIQUE CHECK (length(dedup_key) BETWEEN 1 AND 200),
    kind          TEXT NOT NULL CHECK (kind IN ('confirmation', 'day_before', 'two_hours',
                      'thank_you', 'no_show', 'birthday', 'maturity', 'points',
                      'staff_summary', 'ticket_link')),
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
    CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CHECK (person_hash IS NOT NULL OR channel IN ('wecom', 'log'))
) STRICT;
CREATE INDEX messages_due ON messages(next_at) WHERE status = 'queued';
CREATE INDEX messages_sending ON messages(status) WHERE status = 'sending';
CREATE INDEX messages_person_day ON messages(person_hash, claimed_at)
    WHERE transactional = 0 AND person_hash IS NOT NULL;
CREATE INDEX messages_channel_claimed ON messages(channel, claimed_at);
CREATE INDEX messages_status_kind ON messages(status, kind, id);

-- The channels' own state: WeChat's access token (normal-mode stable token,
-- shared by the daemons of one Official Account) and its forced refreshes.
CREATE TABLE channel_state (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
) STRICT;

-- A member's WeChat openid, sealed, kept when the member binds in the chat,
-- for template messages (bot_bindings keeps only its keyed hash).
ALTER TABLE bot_bindings ADD COLUMN openid_enc BLOB;

-- Birthdays are looked up by month and day.
CREATE INDEX members_birthday_md ON members(substr(birthday, 6));
-- The scheduler derives confirmations from the sign-ups of the last day.
CREATE INDEX signups_created ON signups(created_at);
