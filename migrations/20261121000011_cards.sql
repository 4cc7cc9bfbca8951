-- Stored cards (card storage by NITA, seed 004). Never the card number or the security code:
-- Carat keeps the card and gives back a token (`hash`, 88 characters) that pays without them.

CREATE TABLE cards (
    id              uuid PRIMARY KEY,
    customer_id     text NOT NULL CHECK (customer_id ~ '^[A-Za-z0-9]{1,20}$'),
    authorizer_id   text NOT NULL CHECK (authorizer_id ~ '^[0-9]{1,5}$'),
    -- The storage request's own sequential number (`merchant_usn`, `< 12 N`), from the recharges'
    -- sequence so it is unique across both; the HASH notification's `nsu` matches it.
    merchant_usn    bigint NOT NULL UNIQUE DEFAULT nextval('merchant_usn_seq')
                    CHECK (merchant_usn BETWEEN 1 AND 999999999999),
    nita            text UNIQUE CHECK (nita ~ '^[A-Za-z0-9]{65}$'),
    nsua            text CHECK (nsua ~ '^[0-9]{15}$'),
    -- 'pending' until Carat says (its storage answer or a HASH notification), then its §5.2
    -- status; 'unknown' when the storage call's outcome is not known.
    status          text NOT NULL CHECK (status IN (
                        'pending', 'unknown', 'CON', 'INV', 'NEG', 'DUP', 'CAN', 'DEL', 'BLQ')),
    -- The token: only the service reads it, to pay with the card.
    token           text CHECK (char_length(token) = 88),
    bin             text CHECK (bin ~ '^[0-9]{6}$'),
    last4           text CHECK (last4 ~ '^[0-9]{4}$'),
    expiry          text CHECK (expiry ~ '^(0[1-9]|1[0-2])[0-9]{2}$'),
    last_error_code    text,
    last_error_message text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- A card can pay only with its token.
    CONSTRAINT stored_means_token CHECK (status <> 'CON' OR token IS NOT NULL)
);

CREATE INDEX cards_by_customer ON cards (customer_id, created_at);
