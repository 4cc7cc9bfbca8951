-- A recharge's effectuation input and Carat's answer, one typed value per kind instead of
-- columns shaped for phone top-ups. Existing rows (all `normal`: nothing else could be sold)
-- are carried over before the old columns go.

ALTER TABLE recharges
    -- The effectuation's input as `domain::Effectuation` serialises it, tagged by `kind`,
    -- which is the row's `recharge_type` (CHECK below).
    ADD COLUMN effectuation jsonb,
    -- What Carat answered (`domain::CaratAnswer`): `esitef_usn`, `authorization`. Receipts,
    -- which may carry a PIN, stay in their own columns, never in this clear JSONB.
    ADD COLUMN carat_answer jsonb;

UPDATE recharges SET effectuation = jsonb_build_object(
        'kind', recharge_type,
        'dealer', jsonb_build_object('code', dealer_code, 'type_code', dealer_type_code),
        'phone', jsonb_build_object('ddd', phone_ddd, 'number', phone_number),
        'amount', amount_cents,
        -- Answers were sent but never stored.
        'answers', '[]'::jsonb)
    || CASE WHEN amount_key IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('amount_key', amount_key) END
 WHERE dealer_code IS NOT NULL;

UPDATE recharges SET carat_answer =
       CASE WHEN esitef_usn IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('esitef_usn', esitef_usn) END
    || CASE WHEN authorization_data IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('authorization', authorization_data) END
 WHERE esitef_usn IS NOT NULL OR authorization_data IS NOT NULL;

ALTER TABLE recharges
    ADD CONSTRAINT effectuation_of_its_kind CHECK (
        effectuation IS NULL
        OR (jsonb_typeof(effectuation) = 'object' AND effectuation->>'kind' = recharge_type)),
    ADD CONSTRAINT carat_answer_is_an_object CHECK (
        carat_answer IS NULL OR jsonb_typeof(carat_answer) = 'object'),
    DROP COLUMN dealer_code,
    DROP COLUMN dealer_type_code,
    DROP COLUMN phone_ddd,
    DROP COLUMN phone_number,
    DROP COLUMN amount_cents,
    DROP COLUMN amount_key,
    DROP COLUMN esitef_usn,
    DROP COLUMN authorization_data;
