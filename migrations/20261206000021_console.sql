-- The operator console (issue 16): its sessions, and what its pages look recharges up by.

-- A signed-in browser. Only the SHA-256 of the cookie's value is kept, so a copy of this table
-- signs nobody in; the CSRF token is derived from the cookie's value and is not kept either.
-- A session idle longer than CONSOLE_SESSION_IDLE is deleted when next seen (or at a sign-in).
CREATE TABLE console_sessions (
    id_hash     bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    role        text NOT NULL CHECK (role IN ('operator', 'support')),
    -- Which API token signed in: its id (first 16 hex digits of its SHA-256), never the token.
    token_id    text NOT NULL CHECK (token_id ~ '^[0-9a-f]{16}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen);

-- Search by phone (with or without its DDD) and by Carat's USN: both live in JSONB, so each
-- gets an expression index; rows without one index as NULL.
CREATE INDEX recharges_by_phone_number ON recharges ((effectuation -> 'phone' ->> 'number'));
CREATE INDEX recharges_by_esitef_usn ON recharges ((carat_answer ->> 'esitef_usn'));

-- The queues (in doubt, overdue confirmation, awaiting a choice) count and list open recharges
-- by status; few rows are open, so a status index finds them without reading the table.
-- `outcome_unknown` has its own partial index so `status = ANY(..) OR outcome_unknown` can use
-- both.
CREATE INDEX recharges_by_status ON recharges (status);
CREATE INDEX recharges_outcome_unknown ON recharges (id) WHERE outcome_unknown;
