-- An event's description (CONTRACT.md: at most 500 characters, shown to
-- residents). Events created before it have none: the empty string.
ALTER TABLE events ADD COLUMN description TEXT NOT NULL DEFAULT '';
