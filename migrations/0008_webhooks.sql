-- Budget alerts and signed webhooks (docs/webhooks.md).

-- Where events are sent. tenant_id NULL: every tenant's events. The secret ('whsec_' + base64) is
-- shown once, when the endpoint is created or its secret rotated, and never again.
CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,                 -- 'wh_…'
  url         TEXT NOT NULL,
  events      TEXT NOT NULL,                    -- JSON array of event types, or ["*"]
  tenant_id   TEXT REFERENCES tenants(id),      -- NULL: every tenant
  description TEXT,
  secret      TEXT NOT NULL,
  created_at  TEXT NOT NULL,                    -- ISO 8601 UTC
  deleted_at  TEXT                              -- a deleted endpoint keeps its deliveries
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id);

-- Every event, written in the same D1 batch as the change that caused it (the outbox), then sent
-- to the queue after that batch commits. An event whose enqueued_at is still NULL was never
-- handed to the queue (the Worker died in between); the cron sends it.
-- once_key makes an event happen at most once: a budget threshold crossed by many requests
-- together, the first refusal in a period, a key's expiry warning. NULL for events that may repeat.
CREATE TABLE webhook_events (
  id          TEXT PRIMARY KEY,                 -- 'msg_…', the webhook-id header, the same on every retry
  type        TEXT NOT NULL,                    -- 'budget.threshold', 'key.created', …
  tenant_id   TEXT,                             -- whose event; NULL for a global endpoint's webhook.test
  webhook_id  TEXT,                             -- set for webhook.test only: sent to that endpoint alone
  data        TEXT NOT NULL,                    -- JSON, the body's "data"
  occurred_at INTEGER NOT NULL,                 -- ms since the epoch; the body's "timestamp"
  once_key    TEXT UNIQUE,
  enqueued_at INTEGER                           -- ms; NULL until the queue accepted it
);
CREATE INDEX webhook_events_pending ON webhook_events (enqueued_at) WHERE enqueued_at IS NULL;

-- One row per delivery attempt of an event to an endpoint: the delivery log.
CREATE TABLE webhook_deliveries (
  webhook_id      TEXT NOT NULL,
  event_id        TEXT NOT NULL,
  attempt         INTEGER NOT NULL CHECK (attempt >= 1),
  at              TEXT NOT NULL,                -- ISO 8601 UTC
  response_status INTEGER,                      -- NULL: no answer (timeout, connection error)
  ok              INTEGER NOT NULL CHECK (ok IN (0, 1)),
  error           TEXT,
  next_attempt_at TEXT,                         -- NULL: delivered, or failed for good
  PRIMARY KEY (webhook_id, event_id, attempt)
);
CREATE INDEX webhook_deliveries_latest ON webhook_deliveries (webhook_id, at);
