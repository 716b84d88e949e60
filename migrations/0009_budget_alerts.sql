-- Budget alerts (docs/webhooks.md, "Events and when they fire"; docs/admin.md, alert_thresholds).

-- The percents of a budget at which a budget.threshold event fires: a JSON array of distinct
-- integers 1–100, sorted. [] means no alerts. The admin API validates and normalises it.
ALTER TABLE tenants ADD COLUMN alert_thresholds TEXT NOT NULL DEFAULT '[50,80,100]';
ALTER TABLE api_keys ADD COLUMN alert_thresholds TEXT NOT NULL DEFAULT '[50,80,100]';

-- A threshold is reached when spent * 100 >= percent * budget: integer arithmetic on nano-USD, no
-- rounding. The triggers below run inside the statement that moves spent_nano, budget_nano or
-- period_key, so the event row is written in the same transaction as the change that crossed it:
-- a settle, an admin lowering a budget, a budget period switched. Every threshold that is reached
-- now and was not reached before (in the same period) records one event; the once_key
-- 'threshold:<scope>:<id>:<period_key>:<percent>' is UNIQUE, so however many settles cross it
-- together, and in whatever order D1 runs them, exactly one row exists per crossing. A new period
-- has a new period_key, so it fires again; the reset to 0 at rollover reaches nothing.
--
-- Amounts in the event's data are USD decimal strings as the API writes them ("0.001992295",
-- "25"); period_resets_at is ISO 8601 UTC, null for the period 'none'. occurred_at is the
-- database's clock, in ms.
CREATE TRIGGER api_keys_threshold_crossed
AFTER UPDATE OF spent_nano, budget_nano, period_key ON api_keys
WHEN NEW.budget_nano > 0 AND NEW.period_key IS NOT NULL
  AND (NEW.spent_nano IS NOT OLD.spent_nano OR NEW.budget_nano IS NOT OLD.budget_nano OR NEW.period_key IS NOT OLD.period_key)
BEGIN
  INSERT INTO webhook_events (id, type, tenant_id, webhook_id, data, occurred_at, once_key)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'budget.threshold', NEW.tenant_id, NULL,
    json_object(
      'scope', 'key', 'tenant_id', NEW.tenant_id, 'key_id', NEW.id, 'name', NEW.name,
      'threshold_percent', t.value,
      'budget_usd', printf('%d', NEW.budget_nano / 1000000000) || rtrim(rtrim(printf('.%09d', NEW.budget_nano % 1000000000), '0'), '.'),
      'spent_usd', printf('%d', NEW.spent_nano / 1000000000) || rtrim(rtrim(printf('.%09d', NEW.spent_nano % 1000000000), '0'), '.'),
      'period', NEW.budget_period,
      'period_resets_at', CASE NEW.budget_period WHEN 'none' THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ',
        substr(NEW.period_key, instr(NEW.period_key, ':') + 1),
        CASE NEW.budget_period WHEN 'day' THEN '+1 day' WHEN 'week' THEN '+7 days' ELSE '+1 month' END) END),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    'threshold:key:' || NEW.id || ':' || NEW.period_key || ':' || t.value
  FROM json_each(NEW.alert_thresholds) AS t
  WHERE NEW.spent_nano * 100 >= t.value * NEW.budget_nano
    AND NOT (COALESCE(OLD.budget_nano, 0) > 0 AND OLD.period_key IS NEW.period_key AND OLD.spent_nano * 100 >= t.value * OLD.budget_nano)
  ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER tenants_threshold_crossed
AFTER UPDATE OF spent_nano, budget_nano, period_key ON tenants
WHEN NEW.budget_nano > 0 AND NEW.period_key IS NOT NULL
  AND (NEW.spent_nano IS NOT OLD.spent_nano OR NEW.budget_nano IS NOT OLD.budget_nano OR NEW.period_key IS NOT OLD.period_key)
BEGIN
  INSERT INTO webhook_events (id, type, tenant_id, webhook_id, data, occurred_at, once_key)
  SELECT 'msg_' || lower(hex(randomblob(16))), 'budget.threshold', NEW.id, NULL,
    json_object(
      'scope', 'tenant', 'tenant_id', NEW.id, 'key_id', NULL, 'name', NEW.name,
      'threshold_percent', t.value,
      'budget_usd', printf('%d', NEW.budget_nano / 1000000000) || rtrim(rtrim(printf('.%09d', NEW.budget_nano % 1000000000), '0'), '.'),
      'spent_usd', printf('%d', NEW.spent_nano / 1000000000) || rtrim(rtrim(printf('.%09d', NEW.spent_nano % 1000000000), '0'), '.'),
      'period', NEW.budget_period,
      'period_resets_at', CASE NEW.budget_period WHEN 'none' THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ',
        substr(NEW.period_key, instr(NEW.period_key, ':') + 1),
        CASE NEW.budget_period WHEN 'day' THEN '+1 day' WHEN 'week' THEN '+7 days' ELSE '+1 month' END) END),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    'threshold:tenant:' || NEW.id || ':' || NEW.period_key || ':' || t.value
  FROM json_each(NEW.alert_thresholds) AS t
  WHERE NEW.spent_nano * 100 >= t.value * NEW.budget_nano
    AND NOT (COALESCE(OLD.budget_nano, 0) > 0 AND OLD.period_key IS NEW.period_key AND OLD.spent_nano * 100 >= t.value * OLD.budget_nano)
  ON CONFLICT DO NOTHING;
END;

-- A budget changed so that spend is under a threshold again (raised, usually) re-arms it: the
-- current period's event for that threshold gives up its once_key, so the next crossing records
-- a new one. The event itself stays in the outbox (it may still be on its way). The range on
-- once_key walks its UNIQUE index: the suffix is digits, and ';' sorts after them and after ':'.
CREATE TRIGGER api_keys_threshold_rearm
AFTER UPDATE OF budget_nano ON api_keys
WHEN NEW.budget_nano IS NOT OLD.budget_nano AND NEW.budget_nano > 0 AND NEW.period_key IS NOT NULL
BEGIN
  UPDATE webhook_events SET once_key = NULL
  WHERE once_key > 'threshold:key:' || NEW.id || ':' || NEW.period_key || ':'
    AND once_key < 'threshold:key:' || NEW.id || ':' || NEW.period_key || ';'
    AND NEW.spent_nano * 100 < CAST(substr(once_key, length('threshold:key:' || NEW.id || ':' || NEW.period_key || ':') + 1) AS INTEGER) * NEW.budget_nano;
END;

CREATE TRIGGER tenants_threshold_rearm
AFTER UPDATE OF budget_nano ON tenants
WHEN NEW.budget_nano IS NOT OLD.budget_nano AND NEW.budget_nano > 0 AND NEW.period_key IS NOT NULL
BEGIN
  UPDATE webhook_events SET once_key = NULL
  WHERE once_key > 'threshold:tenant:' || NEW.id || ':' || NEW.period_key || ':'
    AND once_key < 'threshold:tenant:' || NEW.id || ':' || NEW.period_key || ';'
    AND NEW.spent_nano * 100 < CAST(substr(once_key, length('threshold:tenant:' || NEW.id || ':' || NEW.period_key || ':') + 1) AS INTEGER) * NEW.budget_nano;
END;

-- The cron looks for live keys that expire within 7 days, every minute (key.expiring events).
CREATE INDEX api_keys_expiring ON api_keys (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
