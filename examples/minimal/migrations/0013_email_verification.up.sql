-- Email verification. `email_verified_at` is set when the owner sends back a token that was
-- mailed to the address (or completes a password reset, which proves the same). Accounts made
-- before this migration count as verified: the maintenance task deletes accounts left
-- unverified for a week, and must not take accounts that never had the chance.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
-- Without the trigger: marking an account verified here does not change its updated_at.
ALTER TABLE users DISABLE TRIGGER users_set_updated_at;
UPDATE users SET email_verified_at = created_at;
ALTER TABLE users ENABLE TRIGGER users_set_updated_at;

-- What the maintenance task's purge scans: only the unverified accounts, by age.
CREATE INDEX users_unverified_created_at ON users (created_at) WHERE email_verified_at IS NULL;

-- The outstanding verification of an account: the address it verifies (the account's own, or
-- the new one of an email change) and the SHA-256 of the mailed token. At most one per
-- account (a newer request replaces it, an older one never does: `requested_at`); using the
-- token deletes the row.
CREATE TABLE email_verifications (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email text NOT NULL,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    expires_at timestamptz NOT NULL,
    requested_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
