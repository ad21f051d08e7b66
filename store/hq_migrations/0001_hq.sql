-- The database of `kioskd hq`, the reference HQ server (docs/sync.md). Its own
-- schema, numbered apart from a branch's: it shares no table with one.
--
-- Devices are the branch daemons allowed to sync. Their secrets are sealed
-- with HQ's own key (AES-GCM, label hq.device_secret); HQ unseals one only
-- to check a request's signature.
CREATE TABLE hq_devices (
    device        TEXT PRIMARY KEY CHECK (length(device) BETWEEN 1 AND 64),
    secret_enc    BLOB NOT NULL,
    created_at    INTEGER NOT NULL,          -- µs since the epoch
    acked_through INTEGER NOT NULL DEFAULT 0,-- every entry of seq 1..acked_through is stored
    entries       INTEGER NOT NULL DEFAULT 0,-- entries stored
    failures      INTEGER NOT NULL DEFAULT 0,-- requests refused after the device was named
    last_seen     INTEGER                    -- µs of the last request that verified
) STRICT;

-- What branches pushed: each entry once, whatever how often it is sent (the
-- primary key), and one entry per seq of a device. Personal data in data is
-- sealed with HQ's key (the "sealed" member; label hq.entry).
CREATE TABLE hq_entries (
    id          TEXT PRIMARY KEY CHECK (length(id) = 36),
    device      TEXT NOT NULL REFERENCES hq_devices(device),
    seq         INTEGER NOT NULL CHECK (seq > 0),
    kind        TEXT NOT NULL,
    at          TEXT NOT NULL,
    data        TEXT NOT NULL CHECK (json_valid(data)),
    received_at INTEGER NOT NULL,
    UNIQUE (device, seq)
) STRICT;

-- Replay protection, in the database so that every HQ process sharing it
-- sees the same: a signature is accepted once. Rows older than twice the
-- timestamp window can no longer be replayed (the window refuses them first)
-- and are deleted as requests come in.
CREATE TABLE hq_seen_sigs (
    sig    TEXT PRIMARY KEY CHECK (length(sig) = 64),
    device TEXT NOT NULL,
    ts     INTEGER NOT NULL                  -- the request's own timestamp, seconds
) STRICT;
CREATE INDEX hq_seen_sigs_ts ON hq_seen_sigs(ts);

-- What branches pull: one row per thing (kind, key) in its latest version. A
-- change moves the row to a new seq, so a branch's cursor (the last seq it
-- applied) finds every thing changed since, once. Members' personal data is
-- sealed (the "sealed" member; label hq.member).
CREATE TABLE hq_changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('member', 'product', 'event', 'template', 'key',
                                       'revocation', 'balance', 'signup')),
    key  TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    data TEXT NOT NULL CHECK (json_valid(data)),
    at   INTEGER NOT NULL,
    UNIQUE (kind, key)
) STRICT;
