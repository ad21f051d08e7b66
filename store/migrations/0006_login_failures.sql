-- Wrong PINs counted per staff id and client address, so that five wrong PINs
-- from one address lock that id at that address only; the row with addr ''
-- counts every address together (the global lock, far higher). staff_id is
-- the id as typed, known or not: an unknown id is counted and locked exactly
-- as a known one, so the answers do not tell which ids exist. A row goes when
-- its id logs in from that address (the '' row with any login), when
-- `kioskd staff unlock ID` lifts it, or a day after its last failure once
-- unlocked. staff.failed and staff.locked_until are no longer used; a lock
-- in force is carried over as a global one.
CREATE TABLE login_failures (
    staff_id     TEXT NOT NULL,
    addr         TEXT NOT NULL,
    failed       INTEGER NOT NULL CHECK (failed >= 0),
    locked_until INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    PRIMARY KEY (staff_id, addr)
) STRICT, WITHOUT ROWID;
CREATE INDEX login_failures_last ON login_failures(last_at);

INSERT INTO login_failures(staff_id, addr, failed, locked_until, last_at)
    SELECT id, '', 0, locked_until, locked_until FROM staff WHERE locked_until > 0;
UPDATE staff SET failed = 0, locked_until = 0;
