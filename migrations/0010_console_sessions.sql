-- Console sessions (docs/console.md). The browser holds a random 32-byte token in an HttpOnly
-- cookie; only its SHA-256 is stored here, so a copy of this table signs nobody in. A session names
-- the principal it acts as and is checked against it on every request: a revoked admin principal's
-- session stops working, and a session signed in with ADMIN_TOKEN stops when ADMIN_TOKEN changes.
-- Sign-out sets ended_at; a session also ends 8 hours after sign-in.
CREATE TABLE console_sessions (
  id_hash         TEXT PRIMARY KEY,                 -- SHA-256 hex of the cookie's token
  principal_type  TEXT NOT NULL CHECK (principal_type IN ('admin_token', 'admin')),
  principal_id    TEXT NOT NULL,                    -- 'admin_token', or an admin_principals id
  bootstrap_hash  TEXT,                             -- SHA-256 hex of ADMIN_TOKEN at sign-in; NULL for an admin principal
  created_at      TEXT NOT NULL,                    -- ISO 8601 UTC, millisecond precision
  expires_at      TEXT NOT NULL,
  ended_at        TEXT,
  CHECK ((principal_type = 'admin_token') = (bootstrap_hash IS NOT NULL))
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
