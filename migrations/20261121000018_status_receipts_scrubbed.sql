-- A status notification's receipts (`cupom`, `cupomEstabelecimento`) are no longer kept in
-- clear: a paid PIN sale's customer receipt holds the PIN (seed 001). What was kept before is
-- scrubbed the same way the service now keeps it (`callbacks::status::redact_body`, and
-- "[not kept]" in the detail and the history).

UPDATE payment_notifications
   SET detail = jsonb_set(detail, '{customer_receipt}', '"[not kept]"')
 WHERE jsonb_typeof(detail -> 'customer_receipt') = 'string';
UPDATE payment_notifications
   SET detail = jsonb_set(detail, '{merchant_receipt}', '"[not kept]"')
 WHERE jsonb_typeof(detail -> 'merchant_receipt') = 'string';

-- The history is append-only (its trigger refuses any UPDATE): the one exception, inside this
-- migration's transaction, because a PIN in clear must not stay. Only the receipts' values
-- are replaced; every other word of the history stays as it was.
ALTER TABLE recharge_events DISABLE TRIGGER recharge_events_no_update_or_delete;
UPDATE recharge_events
   SET detail = jsonb_set(detail, '{notification,customer_receipt}', '"[not kept]"')
 WHERE name = 'status_notification'
   AND jsonb_typeof(detail #> '{notification,customer_receipt}') = 'string';
UPDATE recharge_events
   SET detail = jsonb_set(detail, '{notification,merchant_receipt}', '"[not kept]"')
 WHERE name = 'status_notification'
   AND jsonb_typeof(detail #> '{notification,merchant_receipt}') = 'string';
ALTER TABLE recharge_events ENABLE TRIGGER recharge_events_no_update_or_delete;

-- The inbox's bodies: each receipt parameter's value replaced by `[redacted]`. A body that is
-- not UTF-8, or that names a parameter percent-encoded (`cup%6Fm`), cannot be redacted here
-- with certainty: it is replaced whole (its dedupe key, the digest of the real bytes, stays).
DO $$
DECLARE
    r record;
    body text;
    kept bytea;
BEGIN
    FOR r IN SELECT id, raw_body FROM callbacks WHERE kind = 'status' LOOP
        BEGIN
            body := convert_from(r.raw_body, 'UTF8');
        EXCEPTION WHEN others THEN
            body := NULL;
        END;
        IF body IS NULL OR body ~ '(^|&)[^=&]*%' THEN
            kept := convert_to('[redacted whole: kept before receipts were redacted]', 'UTF8');
        ELSE
            kept := convert_to(regexp_replace(body,
                        '(^|&)(cupom|cupomEstabelecimento)(=[^&]*)?(?=&|$)',
                        '\1\2=[redacted]', 'g'), 'UTF8');
        END IF;
        IF kept IS DISTINCT FROM r.raw_body THEN
            UPDATE callbacks SET raw_body = kept WHERE id = r.id;
        END IF;
    END LOOP;
END
$$;
