-- Status notifications (digest §6.2): each one kept against its recharge, with what Carat sent
-- and what it did. The POST itself is in `callbacks` (kind 'status').

CREATE TABLE payment_notifications (
    id              bigserial PRIMARY KEY,
    callback_id     bigint NOT NULL UNIQUE REFERENCES callbacks (id),
    recharge_id     uuid NOT NULL REFERENCES recharges (id),
    -- Carat's 3-letter payment status, as notified, and the payment's before it.
    status          text NOT NULL,
    previous_status text,
    -- 'forward' (stored as the payment's status), 'same' or 'stale' (arrived late: nothing
    -- changed), 'no_payment' (the recharge has no payment row to apply it to).
    advance         text NOT NULL CHECK (advance IN ('forward', 'same', 'stale', 'no_payment')),
    -- 'none'; 'query' (it contradicted the recharge: the reconciler queries Carat now);
    -- 'discrepancy' (it contradicted a recharge no query can move: for operators).
    follow_up       text NOT NULL CHECK (follow_up IN ('none', 'query', 'discrepancy')),
    -- Every parameter it carried, validated (nsuSitef, nsuHost, numeroAutorizacao, tid, eci,
    -- cupom...). Never a card number: the form has none, only binCartao.
    detail          jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX payment_notifications_by_recharge ON payment_notifications (recharge_id, id);
CREATE INDEX payment_notifications_by_follow_up ON payment_notifications (follow_up, callback_id)
    WHERE follow_up <> 'none';

-- A notification contradicted a recharge pending confirmation: the reconciler queries Carat
-- at its next look instead of applying the pending-confirmation policy. Cleared once asked.
ALTER TABLE recharges ADD COLUMN query_requested_at timestamptz;
