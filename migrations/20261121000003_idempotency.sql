-- Idempotency keys: the storefront's `Idempotency-Key` on a POST, and the answer it got.

CREATE TABLE idempotency_keys (
    -- Which API token presented the key (a fingerprint, never the token): keys of different
    -- tokens never meet.
    scope        text NOT NULL,
    key          text NOT NULL,
    -- sha-256 of the method, the path and the body: the same key with another request is
    -- refused, never answered with this one's answer.
    fingerprint  text NOT NULL,
    state        text NOT NULL CHECK (state IN ('in_progress', 'completed')),
    -- The holder of an in-progress key renews `locked_until` while its request runs; past it,
    -- the holder is gone (its process died) and a retry with the same request takes the key
    -- over. `lease_token` names the holder, so a stale one cannot finish a key taken from it.
    lease_token  uuid,
    locked_until timestamptz,
    -- The stored answer, once completed.
    http_status  integer,
    content_type text,
    -- A create's `Location`, so that a replayed 201 still says where the recharge is.
    location     text,
    body         bytea,
    -- The key is kept IDEMPOTENCY_TTL_HOURS from here, then treated as new and purged.
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (scope, key),
    CHECK ((state = 'in_progress') = (lease_token IS NOT NULL AND locked_until IS NOT NULL)),
    CHECK ((state = 'completed') = (http_status IS NOT NULL AND body IS NOT NULL))
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
