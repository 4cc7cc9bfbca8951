-- What Carat listed for each recharge (its dealers, and its branch data per DDD and dealer), as
-- the storefront was shown it: an effectuation is checked against it before Carat is called.
CREATE TABLE recharge_listings (
    recharge_id  uuid NOT NULL REFERENCES recharges (id),
    -- 'dealers', or 'branches ddd=<ddd> dealer=<dealer code as a number>'
    listing      text NOT NULL
                 CHECK (listing ~ '^(dealers|branches ddd=[0-9]{2} dealer=[0-9]{1,3})$'),
    -- The listing as the storefront API showed it (amounts in cents); the latest one wins.
    body         jsonb NOT NULL,
    listed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recharge_id, listing)
);
