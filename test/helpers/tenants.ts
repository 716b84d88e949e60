import { call, unique } from './api';

/** A key the tests can call with: its id, its tenant's id and the plaintext key (shown once by the admin API). */
export interface TenantKey {
  tenantId: string;
  keyId: string;
  key: string;
}

export interface TenantWithKeyOptions {
  /** Fields of POST /admin/tenants; the name defaults to a unique one. */
  tenant?: Record<string, unknown>;
  /** Fields of POST /admin/tenants/{id}/keys; the name defaults to a unique one. */
  key?: Record<string, unknown>;
}

/** A fresh tenant with one key, made through the admin API as an operator would (docs/admin.md). */
export async function createTenantWithKey(options: TenantWithKeyOptions = {}): Promise<TenantKey> {
  const t = await call('POST', '/admin/tenants', { admin: true, json: { name: unique('tenant'), ...options.tenant } });
  if (t.status !== 201) throw new Error(`creating a tenant: ${t.status} ${t.text()}`);
  return addKey(t.json().id as string, options.key);
}

/** Another key for an existing tenant. */
export async function addKey(tenantId: string, key: Record<string, unknown> = {}): Promise<TenantKey> {
  const k = await call('POST', `/admin/tenants/${tenantId}/keys`, { admin: true, json: { name: unique('key'), ...key } });
  if (k.status !== 201) throw new Error(`creating a key: ${k.status} ${k.text()}`);
  return { tenantId, keyId: k.json().id, key: k.json().key };
}
