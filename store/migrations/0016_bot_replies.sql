-- Replies of the JSON bridge (POST /api/v1/bot/messages) that did not come
-- within [bot] reply_within: the bridge got 202 {"pending": id} and fetches
-- the reply with GET /api/v1/bot/replies/{id}. id is 32 random hex digits
-- (not personal data); the row is written with the command's own change, in
-- the same transaction, so an answered command's reply survives a restart.
-- Rows older than the replies' keeping time are pruned with the deliveries.
CREATE TABLE bot_replies (
    id    TEXT PRIMARY KEY CHECK (length(id) = 32),
    reply TEXT NOT NULL CHECK (length(reply) <= 2048),
    at    INTEGER NOT NULL
) STRICT;
CREATE INDEX bot_replies_at ON bot_replies(at);
