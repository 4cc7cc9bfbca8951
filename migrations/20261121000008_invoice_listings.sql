-- An invoice recharge's bills are kept as listings too: the bill Carat found for a bar code,
-- 'invoice dealer=<dealer code as a number> bar_code=<48 digits>'.
ALTER TABLE recharge_listings DROP CONSTRAINT recharge_listings_listing_check;
ALTER TABLE recharge_listings ADD CONSTRAINT recharge_listings_listing_check
    CHECK (listing ~ '^(dealers|branches ddd=[0-9]{2} dealer=[0-9]{1,3}|invoice dealer=[0-9]{1,3} bar_code=[0-9]{48})$');
