-- Attribution and prices (docs/money.md, "Splitting the bill" and "Prices change"): tags on ledger
-- rows, price versions, and what each generation would have cost at the origin.
-- Money columns are integers of nano-USD (1e-9 USD); see src/domain/money.ts.

-- Every price a model has had or will have. A request is priced by the version in force when it
-- is reserved (the latest effective_at <= now); a later version never rewrites an earlier row of
-- the ledger. The price columns of `models` stay as the last PUT wrote them, but nothing reads
-- them for pricing any more.
CREATE TABLE model_prices (
  model                       TEXT NOT NULL REFERENCES models(model),
  version                     INTEGER NOT NULL CHECK (version >= 1),
  effective_at                TEXT NOT NULL,          -- ISO 8601 UTC, millisecond precision (sorts as text)
  price_per_megapixel_nano    INTEGER NOT NULL CHECK (price_per_megapixel_nano >= 0),
  included_steps              INTEGER NOT NULL CHECK (included_steps >= 0),
  price_per_extra_step_nano   INTEGER NOT NULL CHECK (price_per_extra_step_nano >= 0),
  created_at                  TEXT NOT NULL,
  PRIMARY KEY (model, version)
);
CREATE INDEX model_prices_effective ON model_prices (model, effective_at);

-- The prices in place before versions existed become version 1, in force since before any ledger row.
INSERT INTO model_prices (model, version, effective_at, price_per_megapixel_nano, included_steps, price_per_extra_step_nano, created_at)
SELECT model, 1, '1970-01-01T00:00:00.000Z', price_per_megapixel_nano, included_steps, price_per_extra_step_nano, updated_at
FROM models;

-- A reservation carries the price version it was priced by, and the tags its ledger row will carry
-- (a JSON object), so a settle, a release and the cron's expiry all write them alike.
ALTER TABLE reservations ADD COLUMN price_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE reservations ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';

-- price_version: the version that priced the generation. list_cost_nano: what it would have cost at
-- the origin (for a charged row, its cost; for a cache hit or a merged follower, what was saved).
ALTER TABLE usage_ledger ADD COLUMN price_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE usage_ledger ADD COLUMN list_cost_nano INTEGER NOT NULL DEFAULT 0 CHECK (list_cost_nano >= 0);

-- Rows written before this migration: their list cost at version 1 (integer division of
-- non-negative integers rounds down, so + 999999 makes the ceiling of docs/money.md's formula).
UPDATE usage_ledger SET list_cost_nano = (
  SELECT (usage_ledger.width * usage_ledger.height * p.price_per_megapixel_nano + 999999) / 1000000
         + MAX(0, usage_ledger.steps - p.included_steps) * p.price_per_extra_step_nano
  FROM model_prices p WHERE p.model = usage_ledger.model AND p.version = 1
) WHERE EXISTS (SELECT 1 FROM model_prices p WHERE p.model = usage_ledger.model AND p.version = 1);

-- A generation's tags, one row per name, written in the same D1 batch as its ledger row. Reports
-- join them on generation_id (the primary key) to group by a tag, and a filter on a tag walks
-- ledger_tags_lookup for the tenant's matching generations instead of scanning every ledger row.
CREATE TABLE ledger_tags (
  generation_id TEXT NOT NULL,
  name          TEXT NOT NULL,
  value         TEXT NOT NULL,
  tenant_id     TEXT NOT NULL,
  created_at    TEXT NOT NULL,                        -- the ledger row's created_at
  PRIMARY KEY (generation_id, name)
) WITHOUT ROWID;
CREATE INDEX ledger_tags_lookup ON ledger_tags (tenant_id, name, value, created_at);
CREATE INDEX ledger_tags_name ON ledger_tags (name, value, created_at);

-- A key's tags for every generation it makes (a JSON object); a request's own tags win per name.
ALTER TABLE api_keys ADD COLUMN default_tags TEXT;
