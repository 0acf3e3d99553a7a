-- Password reset tokens: at most one outstanding per account (a new request replaces it), and
-- only the SHA-256 of the token, which exists in clear only in the email. A reset deletes its
-- row (single use); a password change or reset deletes the account's row, and the account's
-- deletion takes it along.
CREATE TABLE password_resets (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
