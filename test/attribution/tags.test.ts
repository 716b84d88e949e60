import { describe, expect, it } from 'vitest';
import { call, genBody, loopback, originCalls } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { tagsOf } from './support';

/** docs/money.md, "Splitting the bill": tags on generations, a key's default tags, OpenAI's `user`. */

describe('Imagegate-Tags', () => {
  it('stores the header’s tags with the generation’s ledger row, a key’s default_tags filling names left out', async () => {
    const { key, keyId } = await createTenantWithKey({ key: { default_tags: { project: 'default', team: 'search' } } });
    const { scenario, env } = loopback('tags');
    const r = await call('POST', '/image/generation', {
      key,
      env,
      json: genBody(scenario),
      headers: { 'imagegate-tags': ' project=checkout ,feature=Thumbnails v2' },
    });
    expect(r.status).toBe(200);
    const [row] = await ledger('key_id', keyId);
    expect(await tagsOf(row!.generation_id)).toEqual({ project: 'checkout', feature: 'Thumbnails v2', team: 'search' });
  });

  it('refuses a malformed header with a 400 naming Imagegate-Tags, before the origin is called, charging nothing', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env } = loopback('tags-bad');
    const nine = Array.from({ length: 9 }, (_, i) => `t${i}=v`).join(',');
    for (const header of ['project', 'Project=x', 'project=', 'p=a=b', `${'n'.repeat(33)}=x`, `p=${'v'.repeat(65)}`, 'p=x,p=y', 'p=\u0007', nine]) {
      const r = await call('POST', '/image/generation', { key: t.key, env, json: genBody(scenario), headers: { 'imagegate-tags': header } });
      expectError(r, 400, 'invalid_request', { param: 'Imagegate-Tags' });
    }
    expect(await originCalls(scenario)).toHaveLength(0);
    expect(await ledger('key_id', t.keyId)).toHaveLength(0);
    await expectNothingCharged(t);
  });

  it('takes OpenAI’s user as the tag user, the header winning per name; a user that breaks the tag rules is a 400 naming it', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('tags-user');
    const body = { prompt: `user ${scenario}`, size: '256x256', seed: 5 };
    expect((await call('POST', '/v1/images/generations', { key: t.key, env, json: { ...body, user: 'alice@example.com' } })).status).toBe(200);
    const r = await call('POST', '/v1/images/generations', {
      key: t.key,
      env,
      json: { ...body, seed: 6, user: 'alice@example.com' },
      headers: { 'imagegate-tags': 'user=bob, project=x' },
    });
    expect(r.status).toBe(200);
    const rows = await ledger('key_id', t.keyId);
    expect(await Promise.all(rows.map((row) => tagsOf(row.generation_id)))).toEqual([
      { user: 'alice@example.com' },
      { project: 'x', user: 'bob' },
    ]);
    const bad = await call('POST', '/v1/images/generations', { key: t.key, env, json: { ...body, seed: 7, user: 'a=b' } });
    expectError(bad, 400, 'invalid_request', { param: 'user' });
    const eight = Array.from({ length: 8 }, (_, i) => `t${i}=v`).join(',');
    const nine = await call('POST', '/v1/images/generations', { key: t.key, env, json: { ...body, seed: 8, user: 'carol' }, headers: { 'imagegate-tags': eight } });
    expectError(nine, 400, 'invalid_request', { param: 'Imagegate-Tags' });
    expect(await ledger('key_id', t.keyId)).toHaveLength(2);
  });

  it('admin API: default_tags on create and PATCH, checked by the same rules', async () => {
    const t = await createTenantWithKey({ key: { default_tags: { env: 'prod' } } });
    expect((await call('GET', `/admin/keys/${t.keyId}`, { admin: true })).json().default_tags).toEqual({ env: 'prod' });
    const patched = await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { default_tags: { env: 'staging', app: 'web' } } });
    expect(patched.json().default_tags).toEqual({ env: 'staging', app: 'web' });
    expectError(await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { default_tags: { Env: 'x' } } }), 400, 'invalid_request', {
      param: 'default_tags',
    });
    expect((await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { default_tags: null } })).json().default_tags).toEqual({});
  });
});
