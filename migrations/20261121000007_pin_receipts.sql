-- An `others` sale's receipts carry a PIN, which Carat returns once and never keeps: they are
-- stored only encrypted (AES-256-GCM, `domain::receipt_cipher`), never in a clear column.
-- `receipt_ciphertext` is the nonce, the ciphertext and its tag of the JSON
-- `{"customer": .., "merchant": ..}`; `receipt_key_id` names the PIN_ENCRYPTION_KEYS key that
-- sealed it.

ALTER TABLE recharges
    ADD COLUMN receipt_ciphertext bytea,
    ADD COLUMN receipt_key_id text,
    ADD CONSTRAINT receipt_sealed_whole CHECK (
        (receipt_ciphertext IS NULL) = (receipt_key_id IS NULL)),
    -- A PIN sale's receipts never reach the clear columns.
    ADD CONSTRAINT pin_receipts_only_sealed CHECK (
        recharge_type <> 'others'
        OR (customer_receipt IS NULL AND merchant_receipt IS NULL));

-- Branch data of an `others` product is kept per dealer and branch (`recharge::catalog`).
ALTER TABLE recharge_listings
    DROP CONSTRAINT recharge_listings_listing_check,
    ADD CONSTRAINT recharge_listings_listing_check CHECK (listing ~ (
        '^(dealers|branches ddd=[0-9]{2} dealer=[0-9]{1,3}'
        || '|branches dealer=[0-9]{1,3} branch=[0-9]{11})$'));
