-- A card payment linked to a recharge (seed 001 `payment`): one per recharge, in the same Carat
-- transaction. Its status is Carat's own and can differ from the recharge's. Never the card
-- number or the security code: BIN and last four only, or the stored card it was paid with.

CREATE TABLE recharge_payments (
    recharge_id        uuid PRIMARY KEY REFERENCES recharges (id),
    amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
    authorizer_id      text NOT NULL CHECK (authorizer_id ~ '^[0-9]{1,5}$'),
    customer_id        text CHECK (customer_id ~ '^[A-Za-z0-9]{1,20}$'),
    installments       smallint NOT NULL CHECK (installments BETWEEN 1 AND 99),
    installment_type   text NOT NULL CHECK (installment_type IN ('3', '4', '6', '7')),
    -- How the card was given: its number ('number'), a token ('token'), a stored card ('stored_card').
    card_source        text NOT NULL CHECK (card_source IN ('number', 'token', 'stored_card')),
    stored_card_id     uuid REFERENCES cards (id),
    card_bin           text CHECK (card_bin ~ '^[0-9]{6}$'),
    card_last4         text CHECK (card_last4 ~ '^[0-9]{4}$'),
    extra_params       jsonb NOT NULL DEFAULT '[]',
    -- Carat's 3-letter payment status as last learnt, and from what: 'effectuation',
    -- 'confirmation', 'query' or 'notification'.
    status             text,
    status_source      text,
    status_at          timestamptz,
    -- The rest of Carat's `payment` answer: type, acquirer, esitef{usn,date}, sitef{code},
    -- authorization{number,sitef_usn,host_usn,tid,eci,sitef_date}, analysis{status,code,message}.
    carat_answer       jsonb,
    customer_receipt   text,
    merchant_receipt   text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stored_card_named CHECK ((card_source = 'stored_card') = (stored_card_id IS NOT NULL))
);
