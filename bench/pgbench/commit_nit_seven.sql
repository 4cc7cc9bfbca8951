-- The authenticity POST's first commit as the service ran it before commit_nit.sql: seven
-- round trips (BEGIN, SELECT ... FOR UPDATE, the inbox INSERT, the UPDATE, two event INSERTs,
-- COMMIT), for pgbench. Its parameters are bench.py's -D variables and the recharge's number.
\set n :n + 1
\set i :base + :client_id + :clients * :n
BEGIN;
SELECT r.id AS rid, row_to_json(r)::text AS found
  FROM recharges r WHERE order_id = 'B' || :i AND merchant_usn = :i FOR UPDATE \gset
INSERT INTO callbacks (kind, dedupe_key, outcome, reason, http_status, recharge_id,
                       raw_body, content_type, source_addr, forwarded_for)
VALUES (:kind, encode(sha256(convert_to('nit=N' || lpad(:i::text, 63, '0')
               || '&merchantId=LOJATESTE&orderId=B' || :i || '&merchantUSN=' || :i
               || '&generalHash=09A9681D09A9681D', 'UTF8')), 'hex'),
        'accepted', NULL, 200, :rid,
        convert_to('nit=N' || lpad(:i::text, 63, '0') || '&merchantId=LOJATESTE&orderId=B' || :i
                   || '&merchantUSN=' || :i || '&generalHash=09A9681D09A9681D', 'UTF8'),
        :ctype, :source, NULL)
ON CONFLICT (kind, dedupe_key) DO UPDATE
   SET receipt_count = callbacks.receipt_count + 1, last_received_at = now()
RETURNING id, (xmax = 0) AS first_receipt, http_status, reason;
UPDATE recharges SET nit = 'N' || lpad(:i::text, 63, '0'), general_hash = :ghash,
       status = 'started', carat_status = 'NOV', started_at = now(), call_deadline = NULL,
       next_attempt_at = now() + :lifetime * interval '1 millisecond', updated_at = now()
 WHERE id = :rid RETURNING *;
INSERT INTO recharge_events (recharge_id, kind, name, actor, detail)
VALUES (:rid, :ev_callback, 'authenticity', :actor, :detail);
INSERT INTO recharge_events (recharge_id, kind, name, actor, detail)
VALUES (:rid, :ev_state, 'created -> started', :actor,
        jsonb_build_object('from', 'created', 'to', 'started',
                           'nit', 'N' || lpad(:i::text, 63, '0')));
COMMIT;
