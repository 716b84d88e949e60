import { env as baseEnv } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, envWith, genBody, testOrigin, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

/*
 * CONTRACT §4: "a reservation whose request died is released after it expires". A request that is
 * still legitimately at the origin is not dead: with ORIGIN_DEADLINE_MS above the 15 min default
 * reservation lifetime, the cron would give its budget back while it runs (its image then served
 * free, and the budget lent out twice). The reservation must outlive the request's own deadline.
 */
describe('audit §4: a reservation outlives the origin deadline of its request', () => {
  it('expires_at lies beyond ORIGIN_DEADLINE_MS', async () => {
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
    expect((row?.expires_at ?? 0) - Date.parse(row?.created_at ?? '')).toBeGreaterThan(deadlineMs);
    expect((await pending).status).toBe(200);
  });
});
