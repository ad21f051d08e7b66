-- Short codes: every sign-up has a 6-digit code, unique within its event, for
-- guests who cannot show the QR (a paper slip, a code read out at the door).
-- Staff type it at the door: POST /api/v1/checkins {"event_id","code"}.
-- New sign-ups draw theirs at random (store/signups.c); the sign-ups of
-- earlier releases get (id * 7919) mod 10^6, one-to-one on ids that differ by
-- less than a million, so unique within any event.
ALTER TABLE signups ADD COLUMN short_code TEXT
    CHECK (short_code IS NULL OR (length(short_code) = 6 AND short_code NOT GLOB '*[^0-9]*'));
UPDATE signups SET short_code = printf('%06d', (id * 7919) % 1000000);
CREATE UNIQUE INDEX signups_event_code ON signups(event_id, short_code);

-- A check-in by short code is recorded as such: the method's CHECK gains
-- 'code', and SQLite changes a CHECK only by rebuilding the table.
CREATE TABLE checkins_code (
    id        INTEGER PRIMARY KEY,
    event_id  INTEGER NOT NULL REFERENCES events(id),
    signup_id INTEGER NOT NULL REFERENCES signups(id),
    at_us     INTEGER NOT NULL,
    staff_id  TEXT NOT NULL,
    device    TEXT NOT NULL,
    method    TEXT NOT NULL CHECK (method IN ('ticket', 'phone', 'walkin', 'code')),
    undone_us INTEGER,
    undone_by TEXT
) STRICT;
INSERT INTO checkins_code SELECT id, event_id, signup_id, at_us, staff_id, device, method,
    undone_us, undone_by FROM checkins ORDER BY id;
DROP TABLE checkins;
ALTER TABLE checkins_code RENAME TO checkins;
CREATE UNIQUE INDEX checkins_in_force ON checkins(signup_id) WHERE undone_us IS NULL;
CREATE INDEX checkins_event ON checkins(event_id, at_us);
