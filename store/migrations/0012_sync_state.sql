-- The branch's side of HQ sync (docs/sync.md). The outbox cursor (the last
-- seq HQ has stored, with every one before it) stays meta 'outbox_acked_seq'
-- (migration 0001); this row keeps the rest: the pull cursor HQ gave (opaque
-- to the branch) and what the last rounds did, for /healthz and the log.
CREATE TABLE sync_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pull_cursor  TEXT NOT NULL DEFAULT '' CHECK (length(pull_cursor) <= 200),
    last_push_at INTEGER,                    -- µs of the last push HQ accepted
    last_pull_at INTEGER,                    -- µs of the last page applied
    pushed       INTEGER NOT NULL DEFAULT 0, -- entries HQ acknowledged, in all
    pulled       INTEGER NOT NULL DEFAULT 0  -- changes applied, in all
) STRICT;
INSERT INTO sync_state(id) VALUES (1);
