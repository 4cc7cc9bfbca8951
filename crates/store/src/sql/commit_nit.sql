-- The authenticity POST, applied in one auto-committed statement: one round trip, where a
-- transaction of SELECT ... FOR UPDATE, an INSERT, an UPDATE, two INSERTs and its BEGIN and
-- COMMIT took seven. `bench/run` sends this same text through pgbench (bench/pgbench/).
--
--  $1 order_id       $2 merchant_usn   $3 nit            $4 general_hash
--  $5 NIT lifetime (ms)                $6 inbox kind     $7 raw body
--  $8 content type   $9 source address $10 X-Forwarded-For
--  $11..$14 the verdict table: finding, outcome, HTTP status and reason, one row per finding
--  $15 the authenticity event's detail $16 actor         $17, $18 the two event kinds
WITH found AS (
    -- Locked: two POSTs for one order wait for each other; the second then reads the first's
    -- NIT (READ COMMITTED re-reads a row it waited for) and finds it already committed.
    SELECT id, nit, status
      FROM recharges
     WHERE order_id = $1 AND merchant_usn = $2
       FOR UPDATE
), finding AS (
    SELECT f.id,
           CASE
               WHEN f.id IS NULL THEN 'no_recharge'
               WHEN f.nit = $3 THEN 'already_committed'
               WHEN f.nit IS NOT NULL THEN 'conflict'
               WHEN f.status <> 'created' THEN 'not_waiting'
               -- Carat never reuses a NIT: another order holding it is a forgery or a bug.
               WHEN EXISTS (SELECT 1 FROM recharges o WHERE o.nit = $3) THEN 'nit_elsewhere'
               ELSE 'committed'
           END AS finding
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN found f ON true
), verdict AS (
    SELECT finding.id, finding.finding, v.outcome, v.http_status, v.reason
      FROM finding
      JOIN unnest($11::text[], $12::text[], $13::int2[], $14::text[])
               AS v (finding, outcome, http_status, reason)
        ON v.finding = finding.finding
), kept AS (
    INSERT INTO callbacks (kind, dedupe_key, outcome, reason, http_status, recharge_id,
                           raw_body, content_type, source_addr, forwarded_for)
    SELECT $6, encode(sha256($7), 'hex'), outcome, reason, http_status,
           CASE WHEN finding = 'nit_elsewhere' THEN NULL ELSE id END,
           $7, $8, $9, $10
      FROM verdict
        ON CONFLICT (kind, dedupe_key) DO UPDATE
       SET receipt_count = callbacks.receipt_count + 1, last_received_at = now()
    RETURNING id, (xmax = 0) AS first_receipt, http_status, reason
), started AS (
    -- Only a first receipt moves the recharge: a replay changes nothing but its count.
    UPDATE recharges r
       SET nit = $3, general_hash = $4, status = 'started', carat_status = 'NOV',
           started_at = now(), call_deadline = NULL,
           next_attempt_at = now() + $5::bigint * interval '1 millisecond', updated_at = now()
      FROM verdict v, kept k
     WHERE r.id = v.id AND v.finding = 'committed' AND k.first_receipt
    RETURNING r.id
), history AS (
    INSERT INTO recharge_events (recharge_id, kind, name, actor, detail)
    SELECT s.id, e.kind, e.name, $16, e.detail
      FROM started s
     CROSS JOIN (VALUES (1, $17, 'authenticity', $15::jsonb),
                        (2, $18, 'created -> started',
                         jsonb_build_object('from', 'created', 'to', 'started', 'nit', $3)))
                AS e (ord, kind, name, detail)
     ORDER BY e.ord
)
-- "name!" is never NULL, "name?" may be (the LEFT JOIN): sqlx's checked macros cannot tell
-- through the CTEs.
SELECT v.finding AS "finding!", v.id AS "recharge_id?",
       k.id AS callback_id, k.first_receipt AS "first_receipt!", k.http_status, k.reason
  FROM verdict v, kept k
