-- The ticket this daemon issued for a sign-up, as a keyed digest (HMAC-SHA256
-- of the whole code under a key derived from the ticket signing key,
-- core/ticket.h ticket_digest), so that a check-in by ticket compares the
-- scanned code with it instead of verifying its ECDSA signature again. Written
-- by the writer after the ticket is signed (a sign-up is committed first, its
-- code signed after); NULL for sign-ups taken before this migration, taken
-- elsewhere (pulled), or whose digest was not written yet: those tickets are
-- verified by ECDSA as before. Reviving a cancelled sign-up (a new issue time,
-- a new code) clears it. Never leaves the device.
ALTER TABLE signups ADD COLUMN ticket_digest BLOB
    CHECK (ticket_digest IS NULL OR length(ticket_digest) = 32);
