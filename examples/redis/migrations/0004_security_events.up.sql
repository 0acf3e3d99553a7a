-- The security audit log: append-only, written off the request path in batches.
-- No foreign key to users: the record of what happened outlives a deleted account.
CREATE TABLE security_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    user_id     uuid,
    email       text,
    client_ip   text,
    request_id  text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX security_events_created_at_idx ON security_events (created_at);
CREATE INDEX security_events_user_idx ON security_events (user_id, created_at) WHERE user_id IS NOT NULL;
