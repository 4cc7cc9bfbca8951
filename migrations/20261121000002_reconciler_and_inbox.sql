-- The reconciler, attempt-guarded writes, and the callback inbox.

ALTER TABLE recharges
    -- Which money-moving call the row waits on: bumped each time one goes out, and compared in
    -- the WHERE of every write that records an outcome, so that a late answer to an older call
    -- can never overwrite a newer one.
    ADD COLUMN attempt            bigint NOT NULL DEFAULT 0,
    -- When the NIT was committed: a NIT's lifetime counts from here.
    ADD COLUMN started_at         timestamptz,
    -- When the effectuation went out: the pending-confirmation timeout counts from here.
    ADD COLUMN effectuated_at     timestamptz,
    -- When the reconciler looks at the recharge next if nothing else moves it. NULL once it
    -- has ended, and only then (CHECK below): an open recharge is never forgotten.
    ADD COLUMN next_attempt_at    timestamptz,
    -- Reconciler attempts in a row that neither ended nor moved the recharge (Carat
    -- unreachable, a status it cannot act on); the delay to the next grows with it.
    ADD COLUMN reconcile_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN reconcile_error    text,
    -- Which instance's reconciler is working on the recharge, and until when.
    ADD COLUMN lease_owner        text,
    ADD COLUMN lease_until        timestamptz;

UPDATE recharges SET started_at = created_at WHERE nit IS NOT NULL;
UPDATE recharges SET effectuated_at = updated_at
 WHERE status IN ('effectuating', 'pending_confirmation', 'confirming', 'undoing');
UPDATE recharges SET next_attempt_at = now()
 WHERE status NOT IN ('confirmed', 'undone', 'failed', 'expired');

ALTER TABLE recharges ADD CONSTRAINT open_means_scheduled CHECK (
    (status IN ('confirmed', 'undone', 'failed', 'expired')) = (next_attempt_at IS NULL)
);

DROP INDEX recharges_in_doubt;
CREATE INDEX recharges_due ON recharges (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- Who decided what an event records: 'storefront', 'carat', 'reconciler:<instance>'.
ALTER TABLE recharge_events ADD COLUMN actor text;

-- Every callback Carat sends, kept in the transaction that applies it, refused ones included.
CREATE TABLE callbacks (
    id               bigserial PRIMARY KEY,
    -- 'authenticity' (status and HASH notifications later)
    kind             text NOT NULL,
    -- sha-256 of the raw body: the same POST sent again is a replay.
    dedupe_key       text NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN ('accepted', 'refused', 'unmatched')),
    reason           text,
    -- What it was answered, and is answered again on a replay.
    http_status      smallint NOT NULL,
    recharge_id      uuid REFERENCES recharges (id),
    raw_body         bytea NOT NULL,
    content_type     text,
    source_addr      text,
    -- As the proxy said it; informative only.
    forwarded_for    text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    last_received_at timestamptz NOT NULL DEFAULT now(),
    receipt_count    integer NOT NULL DEFAULT 1 CHECK (receipt_count >= 1),
    UNIQUE (kind, dedupe_key)
);

CREATE INDEX callbacks_by_outcome ON callbacks (outcome, id);
