-- Webhooks received from other systems, one row per (source, message id): the row is both the
-- record of what arrived and the guard against processing a message twice.
CREATE TABLE inbound_webhooks (
    source       text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 64),
    message_id   text NOT NULL CHECK (char_length(message_id) BETWEEN 1 AND 255),
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, message_id)
);

CREATE INDEX inbound_webhooks_received_at_idx ON inbound_webhooks (received_at);

-- Endpoints users register for their task events. The secret signs every delivery; during a
-- rotation the previous one signs too, until `previous_secret_until`.
CREATE TABLE webhook_endpoints (
    id                     uuid PRIMARY KEY,
    owner_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                    text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2000),
    event_types            text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    secret                 text NOT NULL,
    previous_secret        text,
    previous_secret_until  timestamptz,
    -- Failed attempts since the last success; at WEBHOOK_DISABLE_AFTER_FAILURES the endpoint
    -- is disabled.
    failure_streak         integer NOT NULL DEFAULT 0 CHECK (failure_streak >= 0),
    disabled_at            timestamptz,
    disabled_reason        text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_id, created_at, id);

CREATE TRIGGER webhook_endpoints_set_updated_at BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One event for one endpoint. The id is the `webhook-id` header, the same on every attempt.
CREATE TABLE webhook_deliveries (
    id            uuid PRIMARY KEY,
    endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      uuid NOT NULL,
    event_type    text NOT NULL,
    -- Sent as its text: the bytes that are signed.
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    -- Fanning an event out twice (a retried job) creates nothing new.
    UNIQUE (event_id, endpoint_id)
);

CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TRIGGER webhook_deliveries_set_updated_at BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    status_code   smallint,
    error         text,
    latency_ms    integer NOT NULL CHECK (latency_ms >= 0)
);

CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
