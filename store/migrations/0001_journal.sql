-- The journal every feature writes into: settings, the outbox that HQ sync
-- drains, and the audit trail of staff actions.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- seq is contiguous (AUTOINCREMENT never reuses a number; a rolled-back
-- savepoint takes its number back with it).
CREATE TABLE outbox (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    id      TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    at      TEXT NOT NULL,
    data    TEXT NOT NULL
) STRICT;

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at_us    INTEGER NOT NULL,
    staff_id TEXT,
    device   TEXT,
    action   TEXT NOT NULL,
    subject  TEXT
) STRICT;
CREATE INDEX audit_at ON audit(at_us);

INSERT INTO meta(key, value) VALUES ('outbox_acked_seq', '0');
