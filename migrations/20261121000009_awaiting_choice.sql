-- A TV recharge Carat answered AGU (`resubmit_transaction` with package codes) waits for the
-- storefront to choose a package: `awaiting_choice`, not final, so it keeps a next_attempt_at.

ALTER TABLE recharges DROP CONSTRAINT recharges_status_check;
ALTER TABLE recharges ADD CONSTRAINT recharges_status_check CHECK (status IN (
    'created', 'started', 'effectuating', 'awaiting_choice', 'pending_confirmation',
    'confirming', 'undoing', 'confirmed', 'undone', 'failed', 'expired'));
