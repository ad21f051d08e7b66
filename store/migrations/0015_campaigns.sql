-- Campaigns (CONTRACT.md "Campaigns"): invitations to an event sent to an
-- audience of members frozen when the campaign is created, in steps timed
-- relative to the event's start (SMS, a call list on the tablet, WeChat).
--
-- campaigns          one per POST /api/v1/campaigns; code is the short code
--                    of the invitation link (/?event=N&c=CODE)
-- campaign_steps     at is the step as given ("-30d"), run_at the unix time
--                    it runs (the event's start plus offset), ran_at when the
--                    scheduler had queued all its messages (NULL: waiting, or
--                    queuing: cursor is the last member id queued)
-- campaign_members   the frozen audience: member ids (and their number)
-- campaign_calls     the outcome of each call of the call step, newest wins
-- signup_campaigns   what brought a sign-up: its campaign and the last step
--                    that reached the person before they signed up (NULL:
--                    none had yet)
-- Invitations are messages (kind invitation, slot = the step id), so the
-- queue's dedup key makes a step queue each person once across restarts.
CREATE TABLE campaigns (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events(id),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    code          TEXT NOT NULL UNIQUE CHECK (length(code) = 6),
    audience      TEXT NOT NULL, -- the filters as given (JSON), for the record
    audience_size INTEGER NOT NULL CHECK (audience_size >= 0),
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL
) STRICT;
CREATE INDEX campaigns_event ON campaigns(event_id);

CREATE TABLE campaign_steps (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    pos         INTEGER NOT NULL CHECK (pos >= 0),
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'call', 'wechat')),
    at          TEXT NOT NULL CHECK (length(at) BETWEEN 2 AND 16),
    run_at      INTEGER NOT NULL,
    template    TEXT,
    ran_at      INTEGER,
    queued      INTEGER NOT NULL DEFAULT 0,
    cursor      INTEGER NOT NULL DEFAULT 0, -- the audience is queued by member id, in batches
    UNIQUE (campaign_id, pos)
) STRICT;
CREATE INDEX campaign_steps_waiting ON campaign_steps(run_at) WHERE ran_at IS NULL;

CREATE TABLE campaign_members (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    member_id   INTEGER NOT NULL REFERENCES members(id),
    member_no   TEXT NOT NULL,
    PRIMARY KEY (campaign_id, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX campaign_members_member ON campaign_members(member_id);

CREATE TABLE campaign_calls (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    member_id   INTEGER NOT NULL REFERENCES members(id),
    outcome     TEXT NOT NULL CHECK (outcome IN ('reached', 'no_answer', 'declined',
                                                 'appointment', 'wrong_number')),
    note        TEXT CHECK (note IS NULL OR length(note) <= 200),
    called_at   INTEGER NOT NULL,
    staff_id    TEXT NOT NULL,
    device      TEXT NOT NULL
) STRICT;
CREATE INDEX campaign_calls_member ON campaign_calls(campaign_id, member_id, id);

CREATE TABLE signup_campaigns (
    signup_id   INTEGER PRIMARY KEY REFERENCES signups(id),
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    step_id     INTEGER REFERENCES campaign_steps(id)
) STRICT;
CREATE INDEX signup_campaigns_campaign ON signup_campaigns(campaign_id, step_id);

-- Invitation messages are found by step (and member).
CREATE INDEX messages_invitation ON messages(slot, member_id) WHERE kind = 'invitation';

-- A sign-up booked by a call (source 'call'), and the message kinds
-- invitation and festival. SQLite changes a CHECK only by rebuilding a table;
-- signups is the parent of most tables, and a rebuild under foreign keys
-- (always on here) would rewrite their references, so the CHECK text is
-- edited in place as SQLite documents for loosening a CHECK (ALTER TABLE,
-- section 7): no stored row can violate the wider constraint, and
-- writable_schema = RESET makes this connection read the schema again.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''walkin'', ''staff'')',
                                       '''walkin'', ''staff'', ''call'')')
    WHERE type = 'table' AND name = 'signups';
UPDATE sqlite_schema SET sql = replace(sql, '''ticket_link'', ''chat_reply'')',
                                       '''ticket_link'', ''chat_reply'', ''invitation'', ''festival'')')
    WHERE type = 'table' AND name = 'messages';
PRAGMA writable_schema = RESET;
