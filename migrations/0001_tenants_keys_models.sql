-- Tenants (teams), their keys, and the models with their prices and limits.
-- Money columns are integers of nano-USD (1e-9 USD); see src/domain/money.ts.

CREATE TABLE tenants (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  budget_nano     INTEGER CHECK (budget_nano IS NULL OR budget_nano >= 0),  -- NULL: no budget
  budget_period   TEXT NOT NULL DEFAULT 'month' CHECK (budget_period IN ('none', 'day', 'week', 'month')),
  rate_limit_rpm  INTEGER CHECK (rate_limit_rpm IS NULL OR rate_limit_rpm > 0),
  max_concurrent  INTEGER CHECK (max_concurrent IS NULL OR max_concurrent > 0),
  cache_scope     TEXT NOT NULL DEFAULT 'private' CHECK (cache_scope IN ('private', 'shared')),
  cache_ttl_days  INTEGER NOT NULL DEFAULT 30 CHECK (cache_ttl_days > 0),
  allowed_models  TEXT,                                 -- JSON array of model ids; NULL: every model
  disabled        INTEGER NOT NULL DEFAULT 0,
  -- the current budget period: what was spent and what is reserved by requests in flight
  period_key      TEXT,                                 -- e.g. '2026-11-01' for a month; NULL until first use
  spent_nano      INTEGER NOT NULL DEFAULT 0 CHECK (spent_nano >= 0),
  reserved_nano   INTEGER NOT NULL DEFAULT 0 CHECK (reserved_nano >= 0),
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);

CREATE TABLE api_keys (
  id              TEXT PRIMARY KEY,
  tenant_id       TEXT NOT NULL REFERENCES tenants(id),
  name            TEXT NOT NULL,
  key_hash        TEXT NOT NULL UNIQUE,                 -- SHA-256 hex of the plaintext; the plaintext is never stored
  prefix          TEXT NOT NULL,                        -- 'igk_' + 8 characters, for display
  budget_nano     INTEGER CHECK (budget_nano IS NULL OR budget_nano >= 0),
  budget_period   TEXT NOT NULL DEFAULT 'month' CHECK (budget_period IN ('none', 'day', 'week', 'month')),
  rate_limit_rpm  INTEGER CHECK (rate_limit_rpm IS NULL OR rate_limit_rpm > 0),
  max_concurrent  INTEGER CHECK (max_concurrent IS NULL OR max_concurrent > 0),
  expires_at      TEXT,                                 -- ISO 8601 UTC; NULL: never
  disabled        INTEGER NOT NULL DEFAULT 0,
  revoked_at      TEXT,
  period_key      TEXT,
  spent_nano      INTEGER NOT NULL DEFAULT 0 CHECK (spent_nano >= 0),
  reserved_nano   INTEGER NOT NULL DEFAULT 0 CHECK (reserved_nano >= 0),
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- One row per model: its price (docs/money.md) and the request limits validation reads (docs/generation.md).
CREATE TABLE models (
  model                       TEXT PRIMARY KEY,
  price_per_megapixel_nano    INTEGER NOT NULL CHECK (price_per_megapixel_nano >= 0),
  included_steps              INTEGER NOT NULL CHECK (included_steps >= 0),
  price_per_extra_step_nano   INTEGER NOT NULL CHECK (price_per_extra_step_nano >= 0),
  width_min INTEGER NOT NULL, width_max INTEGER NOT NULL, width_multiple_of INTEGER NOT NULL,
  height_min INTEGER NOT NULL, height_max INTEGER NOT NULL, height_multiple_of INTEGER NOT NULL,
  steps_min INTEGER NOT NULL, steps_max INTEGER NOT NULL,
  cfg_min REAL NOT NULL, cfg_max REAL NOT NULL,
  updated_at TEXT NOT NULL
);

-- Qubrid's price for SD 3.5 Large: 0.0019 USD per megapixel, 30 steps included, 0.00005 USD per extra step.
INSERT INTO models VALUES (
  'stabilityai/stable-diffusion-3.5-large', 1900000, 30, 50000,
  256, 2048, 16, 256, 2048, 16, 1, 100, 0, 20, '2026-11-26T00:00:00.000Z'
);
