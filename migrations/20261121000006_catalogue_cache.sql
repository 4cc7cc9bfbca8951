-- Carat's recharge tables (dealers, branch data) as last listed, per general hash: the same for
-- every recharge of a type, so a listing can be served from here when Carat says the hash sent
-- is still current. Only entries of the current hash are kept: a new hash deletes the others.

-- The current general hash, as the latest answer that carried one said (one row at most). A new
-- hash deletes this row and inserts its own: the cascade drops every entry of the old one, and
-- an entry can only be written under the current hash.
CREATE TABLE catalogue_version (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    general_hash  text NOT NULL UNIQUE CHECK (general_hash ~ '^[A-Za-z0-9]{16}$'),
    learned_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalogue_cache (
    recharge_type text NOT NULL CHECK (recharge_type IN ('normal', 'others', 'invoice')),
    -- As in recharge_listings: 'dealers', or 'branches ddd=<ddd> dealer=<dealer as a number>'
    -- (a normal top-up's branch data). An `others` product would add its own form (dealer and
    -- branch code); an `invoice` bill is per customer and is never cached.
    listing       text NOT NULL
                  CHECK (listing ~ '^(dealers|branches ddd=[0-9]{2} dealer=[0-9]{1,3})$'),
    general_hash  text NOT NULL REFERENCES catalogue_version (general_hash) ON DELETE CASCADE,
    -- The listing as the storefront API shows it (amounts in cents).
    body          jsonb NOT NULL,
    cached_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recharge_type, listing)
);
