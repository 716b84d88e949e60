-- The cache word a reservation's image would have had (docs/operations.md): 'miss', or 'bypass'
-- for a request whose seed the gateway drew. The cron copies it into the 'expired' ledger row of a
-- request that died, so the ledger says what the lost generation was.
ALTER TABLE reservations ADD COLUMN cache TEXT NOT NULL DEFAULT 'miss' CHECK (cache IN ('miss', 'bypass'));
