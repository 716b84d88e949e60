import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/api';
import { newPrincipal } from '../admins/http-support';
import { runHousekeeping } from '../../src/services/housekeeping';
import { insertSessionStatement } from '../../src/storage/console-sessions';
import { page, sessionRow, signIn } from './support';

/* docs/console.md: a rotated principal's sessions end with the rotation; the cron deletes dead rows. */

describe("rotating an admin principal's token", () => {
  it('ends every console session of that principal in the rotation itself, grace or not; others keep theirs', async () => {
    const [rotated, bystander] = [await newPrincipal('admin'), await newPrincipal('viewer')];
    const sessions = [await signIn(rotated.token), await signIn(rotated.token)];
    const [kept, bootstrap] = [await signIn(bystander.token), await signIn()];
    const r = await call('POST', `/admin/admins/${rotated.id}/rotate`, { admin: true, json: { grace_seconds: 600 } });
    expect(r.status).toBe(200);
    const entry = await env.DB.prepare("SELECT at FROM audit_log WHERE action = 'admin.rotate' AND target_id = ?").bind(rotated.id).first<{ at: string }>();
    for (const cookie of sessions) {
      // ended at the rotation's own time: the same batch as the new token and its audit entry
      expect((await sessionRow(cookie))?.ended_at).toBe(entry?.at);
      const after = await page('GET', '/console', { cookie });
      expect(after.status).toBe(303);
      expect(after.headers.get('location')).toBe('/console/sign-in');
    }
    for (const cookie of [kept, bootstrap]) {
      expect((await sessionRow(cookie))?.ended_at).toBeNull();
      expect((await page('GET', '/console', { cookie })).status).toBe(200);
    }
    // the new token signs in again
    expect((await page('GET', '/console', { cookie: await signIn(r.json().token) })).status).toBe(200);
  });

  it('a rotation that is refused ends no session', async () => {
    const p = await newPrincipal('admin');
    const cookie = await signIn(p.token);
    expect((await call('POST', `/admin/admins/${p.id}/rotate`, { admin: true, json: { grace_seconds: -1 } })).status).toBe(400);
    expect((await sessionRow(cookie))?.ended_at).toBeNull();
  });
});

describe('the cron prunes console sessions', () => {
  const at = (ms: number) => new Date(ms).toISOString();

  it('deletes rows that ended or expired, keeps live ones, and counts them in its summary', async () => {
    const now = Date.parse('2026-11-20T12:00:00.000Z');
    const row = (idHash: string, expiresAt: number) => ({
      idHash,
      principalType: 'admin' as const,
      principalId: 'adm_cleanup',
      bootstrapHash: null,
      createdAt: at(expiresAt - 8 * 3_600_000),
      expiresAt: at(expiresAt),
    });
    await env.DB.batch([
      insertSessionStatement(env.DB, row('cleanup-live', now + 3_600_000)),
      insertSessionStatement(env.DB, row('cleanup-expired', now - 1)),
      insertSessionStatement(env.DB, row('cleanup-ended', now + 3_600_000)),
      env.DB.prepare("UPDATE console_sessions SET ended_at = ? WHERE id_hash = 'cleanup-ended'").bind(at(now - 60_000)),
    ]);
    const summary = await runHousekeeping(env, now);
    expect(summary.sessions).toBeGreaterThanOrEqual(2);
    const left = await env.DB.prepare("SELECT id_hash FROM console_sessions WHERE id_hash LIKE 'cleanup-%'").all<{ id_hash: string }>();
    expect(left.results.map((r) => r.id_hash)).toEqual(['cleanup-live']);
    // a second run finds nothing more of these
    await runHousekeeping(env, now);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM console_sessions WHERE id_hash LIKE 'cleanup-%'").first<{ n: number }>())?.n).toBe(1);
  });
});
