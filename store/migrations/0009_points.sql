-- Points, products and upgrades.
--
-- The ledger is append-only: a line is never updated or deleted. Every
-- positive line is a lot of points with the last day they may be spent
-- (expires_on, a China date); every negative line draws from one lot (lot_id)
-- and copies its expires_on. What is left of a lot is its delta plus the
-- deltas of the lines that draw from it, never below zero. members.balance is
-- the sum of a member's lines, changed in the same savepoint as the lines
-- (kioskd check recomputes both). Spending takes the lots that expire first.
--
-- reason         sign  refers to
-- checkin         +    signup_id (the guest's own sign-up)
-- referral        +    signup_id (the referred guest's sign-up)
-- new_business    +    upgrade_id, product, coef_milli (the coefficient used)
-- reversal        -    reverses (the earning line it takes back), signup_id
-- redemption      -    op_id
-- transfer_out    -    op_id
-- transfer_in     +    op_id (one lot per lot drawn: the expiry travels)
-- expiry          -    (the lot it empties)

-- Products and their conversion coefficients (折算系数), in thousandths. A
-- change applies to new lines only: each earning line records its own.
CREATE TABLE products (
    code       TEXT PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 32),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    coef_milli INTEGER NOT NULL CHECK (coef_milli BETWEEN 0 AND 100000),
    updated_at INTEGER NOT NULL
) STRICT;

-- The branch's upgrade registrations (升级确认单). Amounts are financial
-- data: sealed (AES-GCM) as the decimal text of fen, like members.aum_enc.
CREATE TABLE upgrades (
    id           INTEGER PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members(id),
    signup_id    INTEGER REFERENCES signups(id),
    event_id     INTEGER REFERENCES events(id),
    mode         TEXT NOT NULL CHECK (mode IN ('onsite', 'appointment')),
    pledged_enc  BLOB NOT NULL,
    target_tier  TEXT NOT NULL CHECK (target_tier IN ('潜力', '中高端', '财私')),
    status       TEXT NOT NULL DEFAULT 'registered'
                 CHECK (status IN ('registered', 'approved', 'rejected')),
    reason       TEXT,
    created_us   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    device       TEXT NOT NULL,
    decided_us   INTEGER,
    decided_by   TEXT,
    arrived_us   INTEGER,
    arrived_enc  BLOB,
    CHECK ((status = 'registered') = (decided_us IS NULL)),
    CHECK (arrived_us IS NULL OR status = 'approved')
) STRICT;
CREATE INDEX upgrades_status ON upgrades(status, id);
CREATE INDEX upgrades_event ON upgrades(event_id) WHERE event_id IS NOT NULL;
CREATE INDEX upgrades_member ON upgrades(member_id);
CREATE INDEX upgrades_created ON upgrades(created_us);

-- The products pledged on a registration (amount in fen, in clear: a product
-- line without the person is not personal data).
CREATE TABLE upgrade_products (
    upgrade_id INTEGER NOT NULL REFERENCES upgrades(id),
    product    TEXT NOT NULL REFERENCES products(code),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (upgrade_id, product)
) STRICT;

-- Operations that spend or move points: one row per redemption or transfer.
CREATE TABLE points_ops (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('redemption', 'transfer')),
    member_id      INTEGER NOT NULL REFERENCES members(id),
    to_member_id   INTEGER REFERENCES members(id),
    points         INTEGER NOT NULL CHECK (points > 0),
    from_household INTEGER NOT NULL DEFAULT 0 CHECK (from_household IN (0, 1)),
    text           TEXT NOT NULL, -- the item redeemed, or the transfer's note
    staff_id       TEXT NOT NULL,
    device         TEXT NOT NULL,
    at_us          INTEGER NOT NULL,
    CHECK ((kind = 'transfer') = (to_member_id IS NOT NULL)),
    CHECK (to_member_id IS NULL OR to_member_id <> member_id)
) STRICT;

CREATE TABLE points_lines (
    id         INTEGER PRIMARY KEY,
    member_id  INTEGER NOT NULL REFERENCES members(id),
    delta      INTEGER NOT NULL CHECK (delta <> 0),
    reason     TEXT NOT NULL CHECK (reason IN ('checkin', 'referral', 'new_business', 'reversal',
                                               'redemption', 'transfer_out', 'transfer_in',
                                               'expiry')),
    lot_id     INTEGER REFERENCES points_lines(id),
    expires_on TEXT NOT NULL
               CHECK (expires_on GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    signup_id  INTEGER REFERENCES signups(id),
    upgrade_id INTEGER REFERENCES upgrades(id),
    op_id      INTEGER REFERENCES points_ops(id),
    reverses   INTEGER REFERENCES points_lines(id),
    product    TEXT,
    coef_milli INTEGER,
    at_us      INTEGER NOT NULL,
    staff_id   TEXT,
    device     TEXT,
    CHECK ((delta > 0) = (lot_id IS NULL)),
    CHECK ((reason IN ('checkin', 'referral', 'new_business', 'transfer_in')) = (delta > 0)),
    CHECK ((reason = 'reversal') = (reverses IS NOT NULL)),
    CHECK ((reason = 'new_business') = (coef_milli IS NOT NULL))
) STRICT;
CREATE INDEX points_member ON points_lines(member_id, id);
CREATE INDEX points_lots ON points_lines(member_id, expires_on, id) WHERE lot_id IS NULL;
CREATE INDEX points_draws ON points_lines(lot_id) WHERE lot_id IS NOT NULL;
CREATE INDEX points_signup ON points_lines(signup_id) WHERE signup_id IS NOT NULL;
CREATE INDEX points_reverses ON points_lines(reverses) WHERE reverses IS NOT NULL;
CREATE INDEX points_expiring ON points_lines(expires_on) WHERE lot_id IS NULL;

-- The trial tier (升级体验期): an approved upgrade grants trial_tier until the
-- end of trial_until (a China date); it lapses by itself (readers compare
-- with today), or ends as a real tier when the assets arrive.
ALTER TABLE members ADD COLUMN trial_tier TEXT
    CHECK (trial_tier IS NULL OR trial_tier IN ('潜力', '中高端', '财私'));
ALTER TABLE members ADD COLUMN trial_until TEXT
    CHECK (trial_until IS NULL OR trial_until GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]');

-- No balance ever goes below zero: the database's rule as well as the jobs'.
CREATE TRIGGER members_balance_not_negative BEFORE UPDATE OF balance ON members
    WHEN NEW.balance < 0
BEGIN
    SELECT RAISE(ABORT, 'a points balance may not go below zero');
END;

-- One referred guest earns their referrer one bonus, whatever the event: the
-- referral rule looks a guest's sign-ups up by phone alone.
CREATE INDEX signups_phone ON signups(phone_hash);
