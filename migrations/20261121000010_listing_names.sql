-- Both kinds that list branch data by PUT keep their listings: migration 7 allowed an `others`
-- product's ('branches dealer=<n> branch=<11 digits>'), migration 8 (written beside it) an
-- `invoice` bill's but not the product's. Every listing name the service keeps, in one CHECK.
ALTER TABLE recharge_listings DROP CONSTRAINT recharge_listings_listing_check;
ALTER TABLE recharge_listings ADD CONSTRAINT recharge_listings_listing_check CHECK (listing ~ (
    '^(dealers'
    || '|branches ddd=[0-9]{2} dealer=[0-9]{1,3}'
    || '|branches dealer=[0-9]{1,3} branch=[0-9]{11}'
    || '|invoice dealer=[0-9]{1,3} bar_code=[0-9]{48})$'));

-- An `others` product's branch data is the same for every recharge of its type, so it is cached
-- per general hash as a top-up's is (`recharge::catalog` lists it through the cache); a bill
-- is per customer and is never cached.
ALTER TABLE catalogue_cache DROP CONSTRAINT catalogue_cache_listing_check;
ALTER TABLE catalogue_cache ADD CONSTRAINT catalogue_cache_listing_check CHECK (listing ~ (
    '^(dealers'
    || '|branches ddd=[0-9]{2} dealer=[0-9]{1,3}'
    || '|branches dealer=[0-9]{1,3} branch=[0-9]{11})$'));
