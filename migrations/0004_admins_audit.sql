-- Admin principals, key rotation with a grace period, and the audit log (docs/admin.md).
-- Times are ISO 8601 UTC with millisecond precision, so they sort and compare as text.

-- Admin principals besides the bootstrap ADMIN_TOKEN. Like tenant keys, a token is stored only as a
-- SHA-256 hash. A rotation with a grace period keeps the old hash in previous_token_hash until
-- previous_expires_at; a revocation (revoked_at) ends both at once.
CREATE TABLE admin_principals (
  id                   TEXT PRIMARY KEY,                   -- 'adm_' + 20 base62 characters
  name                 TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role                 TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer', 'tenant_admin')),
  tenant_id            TEXT REFERENCES tenants(id),
  token_hash           TEXT NOT NULL UNIQUE,
  prefix               TEXT NOT NULL,                      -- 'iga_' + 8 characters, for display
  previous_token_hash  TEXT UNIQUE,
  previous_expires_at  TEXT,
  created_at           TEXT NOT NULL,
  updated_at           TEXT NOT NULL,
  revoked_at           TEXT,
  -- a tenant_admin is bound to exactly one tenant; no other role is bound to any
  CHECK ((role = 'tenant_admin') = (tenant_id IS NOT NULL)),
  -- a previous token never outlives its grace period: both set, or neither
  CHECK ((previous_token_hash IS NULL) = (previous_expires_at IS NULL))
);

-- Tenant keys rotated with a grace period: the old hash keeps working until previous_expires_at.
-- SQLite cannot add a UNIQUE column, so a partial unique index stands in for the constraint.
ALTER TABLE api_keys ADD COLUMN previous_key_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_expires_at TEXT;
CREATE UNIQUE INDEX api_keys_previous_hash ON api_keys (previous_key_hash) WHERE previous_key_hash IS NOT NULL;

-- One row per admin change, inserted in the same D1 batch as the change itself. Ids sort by time
-- ('aud_' + milliseconds in base36 + random), and pages are read by keyset on (at, id), newest first.
CREATE TABLE audit_log (
  id           TEXT PRIMARY KEY,
  at           TEXT NOT NULL,
  actor_type   TEXT NOT NULL CHECK (actor_type IN ('admin_token', 'admin')),
  actor_id     TEXT NOT NULL,
  actor_name   TEXT NOT NULL,
  actor_role   TEXT NOT NULL CHECK (actor_role IN ('owner', 'admin', 'viewer', 'tenant_admin')),
  action       TEXT NOT NULL CHECK (action GLOB '[a-z]*.[a-z]*'),   -- noun.verb: 'tenant.create', 'key.rotate'
  target_type  TEXT NOT NULL,
  target_id    TEXT NOT NULL,
  tenant_id    TEXT,                                               -- NULL: the change belongs to no tenant
  before_json  TEXT,                                               -- the changed fields before; NULL on create
  after_json   TEXT,                                               -- the changed fields after; NULL on delete
  request_id   TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (at, id);
CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, at, id);
CREATE INDEX audit_log_target_time ON audit_log (target_id, at, id);
CREATE INDEX audit_log_actor_time ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_action_time ON audit_log (action, at, id);

-- The log is append-only in the storage itself, not only by convention in the Worker: no code path,
-- present or future, can rewrite or drop an entry.
CREATE TRIGGER audit_log_no_update
BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete
BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
