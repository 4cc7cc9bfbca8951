-- used_payment_methods (seed 001): what Carat last announced to this merchant, and the list a
-- confirmation sent, kept with the decision so that sending it again sends the same list.

-- One row: the service is one merchant. `max_entries` is the last `payment_methods.max` an
-- effectuation answer carried (NULL: never announced, no max is checked);
-- `send_requested` is an answer's `send_payment_methods: true`, cleared once an effectuation
-- carrying the list goes out.
CREATE TABLE merchant_payment_methods (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    max_entries     integer CHECK (max_entries >= 0),
    send_requested  boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO merchant_payment_methods DEFAULT VALUES;

-- The wire strings (`Type:Amount[:Id:Data-...]`) the confirmation of this recharge sent.
ALTER TABLE recharges ADD COLUMN decision_payment_methods jsonb
    CHECK (jsonb_typeof(decision_payment_methods) = 'array');
