-- Accounts. Emails are stored as given (trimmed) and unique regardless of case.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    display_name  text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100),
    -- An Argon2id PHC string; the pepper that went into it is recorded beside it, so the
    -- pepper can be rotated and old hashes still verify.
    password_hash text NOT NULL,
    pepper_id     smallint NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    -- Bumped by "log out everywhere": access tokens carry the epoch they were issued in.
    session_epoch integer NOT NULL DEFAULT 0,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- Admin listing pages through users in creation order.
CREATE INDEX users_created_at_idx ON users (created_at, id);

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
