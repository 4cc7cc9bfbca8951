-- How each recharge authenticates to Carat, fixed when it is created: Carat requires every call
-- of a transaction created with a signature to be signed, so switching CARAT_AUTH_MODE must not
-- change the recharges already in flight. Existing rows were all created with authenticity POSTs.
ALTER TABLE recharges
    ADD COLUMN auth_mode text NOT NULL DEFAULT 'authenticity'
        CHECK (auth_mode IN ('authenticity', 'signature'));
