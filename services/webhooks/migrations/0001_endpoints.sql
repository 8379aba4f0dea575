-- Endpoints registered by administrators, with their signing secrets (sealed, WEBHOOK_SEALING_KEY).
CREATE TABLE endpoints (
    id                   uuid PRIMARY KEY,
    url                  text NOT NULL,
    event_types          text[] NOT NULL,
    centre_code          text,
    formation_code       text,
    description          text NOT NULL DEFAULT '',
    secret               text NOT NULL,
    previous_secret      text,
    previous_valid_until timestamptz,
    status               text NOT NULL CHECK (status IN ('active', 'paused', 'disabled')),
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL,
    deliver_from         timestamptz NOT NULL, -- the bus's time at registration: events after it are delivered
    failing_since        timestamptz,
    disabled_at          timestamptz
);

-- One row per event sent to an endpoint (per replay for a replayed one): the delivery log, and
-- what makes a redelivered event go out only once.
CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES endpoints ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    replay_id        uuid,
    event_type       text NOT NULL,
    subject          text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts         int NOT NULL DEFAULT 0,
    last_status_code int,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE UNIQUE INDEX deliveries_once ON deliveries
    (endpoint_id, event_id, coalesce(replay_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE INDEX deliveries_log ON deliveries (endpoint_id, id DESC);

-- A time range to deliver again; done when every stream it covers was read to its end.
CREATE TABLE replays (
    id              uuid PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES endpoints ON DELETE CASCADE,
    since           timestamptz NOT NULL,
    until           timestamptz NOT NULL,
    pending_streams text[] NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
