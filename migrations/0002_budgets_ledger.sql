-- Budgets, reservations, the usage ledger and idempotency records (docs/money.md and docs/cache.md).
-- Money columns are integers of nano-USD (1e-9 USD); see src/domain/money.ts.

-- The invariant spent + reserved <= budget is enforced here, in the storage layer, not by a
-- read-then-write in the Worker: a reservation raises reserved_nano, and these triggers abort the
-- statement (and with it the whole D1 batch: key row, tenant row, reservation rows) when the new
-- total would not fit. Only an increase of reserved_nano is checked, so settling (reserved down,
-- spent up by the same amount) and an admin lowering a budget never fail.
CREATE TRIGGER api_keys_budget_guard
BEFORE UPDATE OF reserved_nano ON api_keys
WHEN NEW.reserved_nano > OLD.reserved_nano
  AND NEW.budget_nano IS NOT NULL
  AND NEW.spent_nano + NEW.reserved_nano > NEW.budget_nano
BEGIN
  SELECT RAISE(ABORT, 'budget_exceeded:key');
END;

CREATE TRIGGER tenants_budget_guard
BEFORE UPDATE OF reserved_nano ON tenants
WHEN NEW.reserved_nano > OLD.reserved_nano
  AND NEW.budget_nano IS NOT NULL
  AND NEW.spent_nano + NEW.reserved_nano > NEW.budget_nano
BEGIN
  SELECT RAISE(ABORT, 'budget_exceeded:tenant');
END;

-- Budget held by a generation that is at the origin. Settling or releasing deletes the row, and
-- both apply only while the row exists, so the cron release and a late settle never both apply.
CREATE TABLE reservations (
  generation_id TEXT PRIMARY KEY,
  request_id    TEXT NOT NULL,
  tenant_id     TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  model         TEXT NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  steps         INTEGER NOT NULL,
  cost_nano     INTEGER NOT NULL CHECK (cost_nano >= 0),
  created_at    TEXT NOT NULL,                 -- ISO 8601 UTC
  expires_at    INTEGER NOT NULL               -- ms since the epoch; the cron releases it after this
);
CREATE INDEX reservations_expiry ON reservations (expires_at);

-- One row per generation that passed auth, rate limits and budget: settled, free (cache), failed
-- or expired. Written in the same batch as the settlement, so for every key and tenant the sum of
-- cost_nano over a budget period equals spent_nano.
-- Double application is prevented by the reservation row (see above), not by a key here: a ledger
-- write that failed on a duplicate would roll back its settlement and leave a free image behind.
CREATE TABLE usage_ledger (
  id            INTEGER PRIMARY KEY,
  generation_id TEXT NOT NULL,                 -- the request id, or '{request id}.{i}' for n > 1
  request_id    TEXT NOT NULL,
  tenant_id     TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  model         TEXT NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  steps         INTEGER NOT NULL,
  cost_nano     INTEGER NOT NULL CHECK (cost_nano >= 0),
  cache         TEXT NOT NULL CHECK (cache IN ('hit', 'miss', 'bypass', 'coalesced')),
  origin        TEXT,                          -- origin name, 'cache', or NULL when none answered
  status        TEXT NOT NULL,                 -- 'ok', an error code, or 'expired'
  latency_ms    INTEGER NOT NULL,
  created_at    TEXT NOT NULL                  -- ISO 8601 UTC, millisecond precision (sorts as text)
);
CREATE INDEX usage_ledger_tenant_time ON usage_ledger (tenant_id, created_at);
CREATE INDEX usage_ledger_key_time ON usage_ledger (key_id, created_at);
CREATE INDEX usage_ledger_time ON usage_ledger (created_at);
CREATE INDEX usage_ledger_generation ON usage_ledger (generation_id);

-- Idempotency-Key records (IETF httpapi draft; docs/cache.md), scoped to the tenant, kept 24 h.
-- A 'running' record whose lease passed belongs to a worker that died; a retry may take it over.
-- The stored answer's body lives in R2 (it can be an image); status and headers live here.
CREATE TABLE idempotency_records (
  tenant_id   TEXT NOT NULL,
  idem_key    TEXT NOT NULL,
  body_hash   TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('running', 'done')),
  owner       TEXT NOT NULL,                   -- request id of the request that holds or wrote it
  lease_until INTEGER NOT NULL,                -- ms since the epoch
  status      INTEGER,
  headers     TEXT,                            -- JSON object of the stored response's headers
  body_key    TEXT,                            -- R2 key of the stored response's body
  created_at  INTEGER NOT NULL,                -- ms since the epoch
  PRIMARY KEY (tenant_id, idem_key)
);
CREATE INDEX idempotency_records_created ON idempotency_records (created_at);
