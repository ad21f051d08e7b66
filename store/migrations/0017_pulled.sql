-- What the branch applies from HQ's pulls beyond members and products
-- (docs/sync.md, "What is pulled").

-- Events imported at HQ. hq_key is HQ's key of the event (a later pull of
-- the same key updates it); branch is the HQ device id of the branch where an
-- event takes place when that is another branch of this one's area ('' : this
-- branch, whether created here or imported at HQ for it). Another branch's
-- event is listed, marked, and never signed up for here.
ALTER TABLE events ADD COLUMN hq_key TEXT CHECK (hq_key IS NULL OR length(hq_key) <= 200);
ALTER TABLE events ADD COLUMN branch TEXT NOT NULL DEFAULT '' CHECK (length(branch) <= 64);
CREATE UNIQUE INDEX events_hq_key ON events(hq_key) WHERE hq_key IS NOT NULL;

-- Points earned at HQ: a lot of reason 'hq' with HQ's line id (hq_id, at
-- most once: the unique index) and HQ's reason text (note). The rest of the
-- ledger's rules (migration 0009) are unchanged; SQLite cannot change a
-- CHECK, so the table is rebuilt with the same rows, ids and indexes.
CREATE TABLE points_lines_new (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members(id),
    delta      INTEGER NOT NULL CHECK (delta <> 0),
    reason     TEXT NOT NULL CHECK (reason IN ('checkin', 'referral', 'new_business', 'reversal',
                                               'redemption', 'transfer_out', 'transfer_in',
                                               'expiry', 'hq')),
    lot_id     INTEGER REFERENCES points_lines_new(id),
    expires_on TEXT NOT NULL
               CHECK (expires_on GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    signup_id  INTEGER REFERENCES signups(id),
    upgrade_id INTEGER REFERENCES upgrades(id),
    op_id      INTEGER REFERENCES points_ops(id),
    reverses   INTEGER REFERENCES points_lines_new(id),
    product    TEXT,
    coef_milli INTEGER,
    at_us      INTEGER NOT NULL,
    staff_id   TEXT,
    device     TEXT,
    hq_id      TEXT CHECK (hq_id IS NULL OR length(hq_id) BETWEEN 1 AND 64),
    note       TEXT CHECK (note IS NULL OR length(note) <= 100),
    CHECK ((delta > 0) = (lot_id IS NULL)),
    CHECK ((reason IN ('checkin', 'referral', 'new_business', 'transfer_in', 'hq')) = (delta > 0)),
    CHECK ((reason = 'reversal') = (reverses IS NOT NULL)),
    CHECK ((reason = 'new_business') = (coef_milli IS NOT NULL)),
    CHECK ((reason = 'hq') = (hq_id IS NOT NULL))
) STRICT;
INSERT INTO points_lines_new(id, member_id, delta, reason, lot_id, expires_on, signup_id,
                             upgrade_id, op_id, reverses, product, coef_milli, at_us, staff_id,
                             device)
    SELECT id, member_id, delta, reason, lot_id, expires_on, signup_id, upgrade_id, op_id,
           reverses, product, coef_milli, at_us, staff_id, device
    FROM points_lines ORDER BY id;
DROP TABLE points_lines;
ALTER TABLE points_lines_new RENAME TO points_lines;
CREATE INDEX points_member ON points_lines(member_id, id);
CREATE INDEX points_lots ON points_lines(member_id, expires_on, id) WHERE lot_id IS NULL;
CREATE INDEX points_draws ON points_lines(lot_id) WHERE lot_id IS NOT NULL;
CREATE INDEX points_signup ON points_lines(signup_id) WHERE signup_id IS NOT NULL;
CREATE INDEX points_reverses ON points_lines(reverses) WHERE reverses IS NOT NULL;
CREATE INDEX points_expiring ON points_lines(expires_on) WHERE lot_id IS NULL;
CREATE UNIQUE INDEX points_hq_id ON points_lines(hq_id) WHERE hq_id IS NOT NULL;

-- Message templates pulled from HQ (KIND.CHANNEL.mustache files, the format
-- of [messages] templates), each checked as at start-up before it is stored:
-- they replace the embedded template and one of [messages] templates of the
-- same name (daemon/templates.h). A stored one that no longer checks (a
-- newer kioskd) is left out at start with a log line.
CREATE TABLE templates_pulled (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 10 AND 63),
    text       TEXT NOT NULL CHECK (length(CAST(text AS BLOB)) <= 65536),
    updated_at INTEGER NOT NULL                 -- µs
) STRICT;

-- Points lines earned at HQ for a member this branch does not have yet: kept
-- until a pull brings the member, then merged into the ledger (by hq_id,
-- once) and deleted here, in the same transaction.
CREATE TABLE points_hq_pending (
    hq_id     TEXT PRIMARY KEY CHECK (length(hq_id) BETWEEN 1 AND 64),
    member_no TEXT NOT NULL CHECK (length(member_no) BETWEEN 1 AND 32),
    points    INTEGER NOT NULL CHECK (points > 0),
    note      TEXT NOT NULL,
    at        INTEGER NOT NULL                  -- unix seconds, HQ's time of the line
) STRICT;
