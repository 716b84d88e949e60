import { env as baseEnv } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, envWith, genBody, testOrigin, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

/*
 * docs/money.md: "a reservation whose request died is released after it expires". A request that is
 * still legitimately at the origin is not dead: were its reservation to end first, the cron would
 * give its budget back while it runs (its image then served free, and the budget lent out twice).
 * The reservation must outlive the request's own deadline, and a dead request's budget must come
 * back soon after it (docs/admin.md): within the deadline plus 30 s, plus the cron's minute.
 */
describe('audit docs/money.md: a reservation outlives the origin deadline of its request, and no more', () => {
  it('expires_at lies beyond ORIGIN_DEADLINE_MS, at most 30 s beyond', async () => {
    const scenario = unique('ttl');
    const deadlineMs = 3_600_000;
    const env = envWith([testOrigin(scenario, 'slow-1500')], { ORIGIN_DEADLINE_MS: String(deadlineMs) });
    const tk = await createTenantWithKey({ key: { budget_usd: '1' } });
    const pending = call('POST', '/image/generation', { key: tk.key, env, json: genBody(unique('ttl')) });
    let row: { expires_at: number; created_at: string } | null = null;
    for (let i = 0; i < 100 && !row; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      row = await baseEnv.DB.prepare('SELECT expires_at, created_at FROM reservations WHERE key_id = ?')
        .bind(tk.keyId)
        .first<{ expires_at: number; created_at: string }>();
    }
    expect(row, 'the reservation was never seen').not.toBeNull();
    const lifetime = (row?.expires_at ?? 0) - Date.parse(row?.created_at ?? '');
    expect(lifetime).toBeGreaterThan(deadlineMs);
    expect(lifetime).toBeLessThanOrEqual(deadlineMs + 30_000);
    expect((await pending).status).toBe(200);
  });
});
