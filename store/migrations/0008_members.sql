-- Members (the bank's customers at this branch), imported from HQ's CSV.
-- name and phone are sealed (AES-GCM) and the phone is found by its keyed
-- hash, as in signups. AUM is financial data: sealed too, as the decimal text
-- of an integer number of fen; its tier is kept in clear, computed at import
-- with the [tiers] lines then in force, so lookups and audiences need not
-- unseal. balance is the member's points (cached from the ledger, later).
CREATE TABLE members (
    id          INTEGER PRIMARY KEY,
    member_no   TEXT NOT NULL UNIQUE CHECK (length(member_no) BETWEEN 1 AND 32),
    name_enc    BLOB NOT NULL,
    phone_enc   BLOB NOT NULL,
    phone_hash  BLOB NOT NULL CHECK (length(phone_hash) = 32),
    name_mask   TEXT NOT NULL,
    phone_last4 TEXT NOT NULL CHECK (length(phone_last4) = 4),
    aum_enc     BLOB NOT NULL,
    tier        TEXT NOT NULL CHECK (tier IN ('长尾', '潜力', '中高端', '财私')),
    birthday    TEXT NOT NULL CHECK (birthday GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    household   TEXT CHECK (household IS NULL OR length(household) BETWEEN 1 AND 64),
    last_txn    TEXT CHECK (last_txn IS NULL OR
                            last_txn GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    openid      TEXT,
    opted_out   INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1)),
    balance     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX members_phone ON members(phone_hash);
CREATE INDEX members_household ON members(household) WHERE household IS NOT NULL;
CREATE INDEX members_tier ON members(tier);
