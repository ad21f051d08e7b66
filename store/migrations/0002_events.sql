-- Events, sign-ups, check-ins, staff and their sessions.
-- Times: *_at columns are unix seconds (UTC) unless named *_us (microseconds).
-- Personal data (names, phones) is stored only encrypted (*_enc, AES-GCM) and
-- found through keyed hashes (*_hash, HMAC-SHA256); *_mask columns hold the
-- masked form shown in rosters (张*, last four digits of the phone).

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('upgrade', 'salon', 'community')),
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL CHECK (ends_at > starts_at),
    venue      TEXT NOT NULL,
    capacity   INTEGER NOT NULL CHECK (capacity > 0),
    status     TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled')),
    created_at INTEGER NOT NULL,
    -- counts kept in the same transaction as the rows they count
    confirmed  INTEGER NOT NULL DEFAULT 0,
    waitlisted INTEGER NOT NULL DEFAULT 0,
    checked_in INTEGER NOT NULL DEFAULT 0,
    walk_ins   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX events_upcoming ON events(ends_at, starts_at);

CREATE TABLE signups (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events(id),
    phone_hash      BLOB NOT NULL,
    phone_enc       BLOB NOT NULL,
    name_enc        BLOB NOT NULL,
    name_mask       TEXT NOT NULL,
    phone_last4     TEXT NOT NULL,
    member_no       TEXT,
    referrer_hash   BLOB,
    source          TEXT NOT NULL CHECK (source IN ('kiosk', 'bot', 'walkin', 'staff')),
    status          TEXT NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    consent_at      INTEGER NOT NULL,
    consent_version TEXT NOT NULL,
    issued_at       INTEGER NOT NULL, -- ticket issue time; a new one revokes older tickets
    kid             TEXT NOT NULL,    -- key that signs this sign-up's ticket
    created_at      INTEGER NOT NULL,
    cancelled_at    INTEGER
) STRICT;
CREATE UNIQUE INDEX signups_event_phone ON signups(event_id, phone_hash);
CREATE INDEX signups_event_status ON signups(event_id, status, id);
CREATE INDEX signups_event_last4 ON signups(event_id, phone_last4);

-- At most one check-in in force per sign-up (undone ones stay for the record).
CREATE TABLE checkins (
    id        INTEGER PRIMARY KEY,
    event_id  INTEGER NOT NULL REFERENCES events(id),
    signup_id INTEGER NOT NULL REFERENCES signups(id),
    at_us     INTEGER NOT NULL,
    staff_id  TEXT NOT NULL,
    device    TEXT NOT NULL,
    method    TEXT NOT NULL CHECK (method IN ('ticket', 'phone', 'walkin')),
    undone_us INTEGER,
    undone_by TEXT
) STRICT;
CREATE UNIQUE INDEX checkins_in_force ON checkins(signup_id) WHERE undone_us IS NULL;
CREATE INDEX checkins_event ON checkins(event_id, at_us);

CREATE TABLE staff (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('staff', 'manager', 'admin')),
    pin_hash     TEXT NOT NULL,  -- argon2id encoded
    failed       INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY, -- SHA-256 of the bearer token; the token itself is never stored
    staff_id   TEXT NOT NULL REFERENCES staff(id),
    role       TEXT NOT NULL,
    device     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Public keys of other daemons (pulled from HQ) whose tickets this one accepts.
CREATE TABLE ticket_keys (
    kid        TEXT PRIMARY KEY,
    public_pem TEXT NOT NULL,
    source     TEXT NOT NULL,
    added_at   INTEGER NOT NULL
) STRICT;
