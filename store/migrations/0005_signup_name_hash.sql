-- A sign-up's name as a keyed hash (HMAC-SHA256 under the personal-data key
-- of "name:" and the name's key, core/validate.h validate_name_key), so the
-- writer can tell the same phone with the same name (the same sign-up and
-- ticket again) from the same phone with another name (refused) without
-- opening name_enc. Rows from before this migration have none (NULL): the
-- name they were taken under cannot be compared, so they are treated as
-- another name (409 already_signed_up, no ticket); their place and ticket
-- stand, and staff find them by phone. Reviving a cancelled row sets it.
ALTER TABLE signups ADD COLUMN name_hash BLOB;
