-- Tasks belong to a user. `version` counts updates: a write names the version it read and
-- fails when someone else got there first (optimistic concurrency).
CREATE TABLE tasks (
    id          uuid PRIMARY KEY,
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    status      text NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in_progress', 'done')),
    due_at      timestamptz,
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every list query filters by owner; these serve its orderings with `id` as the tiebreaker,
-- so keyset pagination reads only the rows of one page (see docs: the index report).
CREATE INDEX tasks_owner_created_idx ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_owner_due_idx ON tasks (owner_id, due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_owner_title_idx ON tasks (owner_id, title, id);
CREATE INDEX tasks_owner_status_created_idx ON tasks (owner_id, status, created_at, id);

CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Responses to POST /tasks by (user, Idempotency-Key): a retry with the same key and body gets
-- the stored response instead of a second task. Rows expire and are purged.
CREATE TABLE idempotency_keys (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key           text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash  bytea NOT NULL,
    status_code   smallint NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
