-- The key an address is unique and looked up by, folded once by the service (`email_key` in
-- src/domain/user.rs: trimmed, Unicode lower case) and stored. Until now the service folded
-- the address a login gave and the database folded the stored ones with lower(), which
-- follows the database's collation and folds character by character: an address whose two
-- folds differ (a final Greek sigma, say, or any non-ASCII letter under the C collation) could
-- register but never log in.
ALTER TABLE users ADD COLUMN email_key text;

-- Existing accounts keep the key they were unique by: for ASCII addresses it is exactly the
-- service's fold. An address whose two folds differ could not log in before this migration
-- and still cannot; registering it again creates a separate account under the service's key.
-- Without the trigger: filling in a key does not change an account's updated_at.
ALTER TABLE users DISABLE TRIGGER users_set_updated_at;
UPDATE users SET email_key = lower(email);
ALTER TABLE users ENABLE TRIGGER users_set_updated_at;

-- No length rule of its own: the address has one, and lower-casing can lengthen it (İ is
-- two characters in lower case).
ALTER TABLE users ALTER COLUMN email_key SET NOT NULL;

-- The same name as the index it replaces: a duplicate is still reported as users_email_key.
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (email_key);
