-- The outbox holds JSON documents only, and the database says so: HQ sync
-- parses every entry, and one it cannot parse would stop the journal there.
-- outbox.data is the only JSON column (audit.subject and meta.value are plain
-- text). SQLite cannot add a CHECK to a table, so outbox is rebuilt.
--
-- What is kept: every seq (meta 'outbox_acked_seq' counts in them, so the
-- acked prefix stays the same), the AUTOINCREMENT counter in sqlite_sequence
-- (a seq is never handed out twice, even one whose row is gone), the UNIQUE
-- id. An entry written by releases that built JSON by hand and broke on a
-- quote or backslash is kept as {"invalid_json": "<the text as stored>"}, so
-- HQ still receives it, marked, under its own id and seq.

CREATE TABLE outbox_json (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    id      TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    at      TEXT NOT NULL,
    data    TEXT NOT NULL CHECK (json_valid(data))
) STRICT;

INSERT INTO outbox_json(seq, id, kind, at, data)
    SELECT seq, id, kind, at,
           CASE WHEN json_valid(data) THEN data ELSE json_object('invalid_json', data) END
    FROM outbox ORDER BY seq;

-- The copy set the new counter to the highest seq copied; the old counter
-- may be higher (entries since removed) and is the one to keep.
DELETE FROM sqlite_sequence WHERE name = 'outbox_json';
INSERT INTO sqlite_sequence(name, seq)
    SELECT 'outbox_json', seq FROM sqlite_sequence WHERE name = 'outbox';

DROP TABLE outbox;
ALTER TABLE outbox_json RENAME TO outbox;
