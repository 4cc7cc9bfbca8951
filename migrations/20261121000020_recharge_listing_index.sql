-- GET /api/v1/recharges pages newest first by (created_at, id): this index serves the order
-- and the keyset condition `(created_at, id) < (..)` without a sort or a sequential scan.
-- order_id and nit already have their unique indexes.
CREATE INDEX recharges_by_created ON recharges (created_at DESC, id DESC);
