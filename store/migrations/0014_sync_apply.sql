-- What a branch applies of HQ's changes beyond members and products
-- (docs/sync.md). Other devices' public ticket keys go in ticket_keys
-- (migration 0002).
--
-- A sign-up taken elsewhere (kind signup: another branch, or HQ's bot) is a
-- row of signups like any other, with its own local id and short code; this
-- table says where it was taken, so that its ticket (which names the
-- sign-up by its id there, signed by key kid) finds it here.
CREATE TABLE signup_origins (
    signup_id INTEGER PRIMARY KEY REFERENCES signups(id),
    kid       TEXT NOT NULL,                 -- the key that signs its ticket
    origin_id INTEGER NOT NULL,              -- its id where it was taken (in the ticket)
    device    TEXT NOT NULL,                 -- the device that took it, as HQ names it
    UNIQUE (kid, origin_id)
) STRICT;

-- Tickets cancelled elsewhere (kind revocation): a ticket of key kid for
-- sign-up signup_id (its id where it was taken) issued at or before
-- issued_at is refused like a cancelled one, with or without its sign-up here.
CREATE TABLE ticket_revocations (
    kid       TEXT NOT NULL,
    signup_id INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (kid, signup_id)
) STRICT;
