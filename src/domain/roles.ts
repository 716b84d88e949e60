/**
 * Who may call which admin route (docs/admin.md), as data: one table of (method, route) → roles,
 * read by one function. Handlers never check roles themselves.
 */
import type { Nano } from './money';
import type { FieldProblem } from './failure';
import { randomBase62 } from './keys';

export const ROLES = ['owner', 'admin', 'viewer', 'tenant_admin'] as const;
export type Role = (typeof ROLES)[number];

/** The caller of an admin route: the bootstrap `ADMIN_TOKEN` or an admin principal. */
export interface Principal {
  type: 'admin_token' | 'admin';
  id: string;
  name: string;
  role: Role;
  /** The one tenant a `tenant_admin` acts for; null for every other role. */
  tenantId: string | null;
}

/** `ADMIN_TOKEN` is the bootstrap owner; it is not a row and cannot be revoked through the API. */
export const BOOTSTRAP_PRINCIPAL: Principal = {
  type: 'admin_token',
  id: 'admin_token',
  name: 'ADMIN_TOKEN',
  role: 'owner',
  tenantId: null,
};

// ------------------------------------------------------------------ admin tokens

const TOKEN_PREFIX = 'iga_';
const TOKEN_RANDOM_CHARS = 40;
const DISPLAY_PREFIX_LENGTH = TOKEN_PREFIX.length + 8;

/** An admin principal's token: `iga_` + 40 base62 characters from the platform CSPRNG. */
export function newAdminToken(): string {
  return TOKEN_PREFIX + randomBase62(TOKEN_RANDOM_CHARS);
}

export function adminTokenPrefix(token: string): string {
  return token.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** Whether a bearer token could be an admin principal's at all, checked before any storage lookup. */
export function looksLikeAdminToken(text: string): boolean {
  return /^iga_[0-9A-Za-z]{32,128}$/.test(text);
}

// ------------------------------------------------------------------ the policy table

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a `tenant_admin` may do on a route:
 * - `none`: the route is outside any one tenant (403);
 * - `own`: allowed on an object of its own tenant, 404 for another tenant's;
 * - `own_read_only`: the object is its own tenant, which it may read elsewhere but not change
 *   here (403); another tenant's is 404;
 * - `own_rows`: a list the route narrows to `tenantScope(principal)`; asking for another
 *   tenant's rows is 404. On a create whose body names the tenant (`POST /admin/webhooks`), the
 *   route asks `ownedTenant` which tenant the new object belongs to.
 */
export type TenantAdminAccess = 'none' | 'own' | 'own_read_only' | 'own_rows';

export interface RoutePolicy {
  method: Method;
  /** The route as the OpenAPI document writes it: `/admin/keys/{id}`. */
  path: string;
  /** Which of owner, admin and viewer may call it. */
  roles: readonly Exclude<Role, 'tenant_admin'>[];
  tenantAdmin: TenantAdminAccess;
}

/** A route as the audit log and the 403 message name it: `GET /admin/keys/{id}`. */
type AdminRoute = `${Method} /admin/${string}`;

/**
 * Every admin route and what a tenant admin may do on it. Owner: everything; admin: everything but
 * /admin/admins; viewer: every GET but /admin/admins (`rolesOf`). A route missing here is refused
 * to everyone.
 */
const TENANT_ADMIN_ACCESS: Readonly<Record<AdminRoute, TenantAdminAccess>> = {
  'POST /admin/tenants': 'none',
  'GET /admin/tenants': 'own_rows',
  'GET /admin/tenants/{id}': 'own',
  'PATCH /admin/tenants/{id}': 'own_read_only',
  'POST /admin/tenants/{id}/keys': 'own',
  'GET /admin/keys/{id}': 'own',
  'PATCH /admin/keys/{id}': 'own',
  'DELETE /admin/keys/{id}': 'own',
  'POST /admin/keys/{id}/rotate': 'own',
  'GET /admin/models': 'none',
  'GET /admin/models/{model}': 'none',
  'PUT /admin/models/{model}': 'none',
  'GET /admin/models/{model}/prices': 'none',
  'GET /admin/usage': 'own_rows',
  'GET /admin/audit': 'own_rows',
  'GET /admin/health': 'none',
  'GET /admin/metrics': 'none',
  'POST /admin/admins': 'none',
  'GET /admin/admins': 'none',
  'GET /admin/admins/{id}': 'none',
  'DELETE /admin/admins/{id}': 'none',
  'POST /admin/admins/{id}/rotate': 'none',
  'POST /admin/webhooks': 'own_rows',
  'GET /admin/webhooks': 'own_rows',
  'GET /admin/webhooks/{id}': 'own',
  'DELETE /admin/webhooks/{id}': 'own',
  'POST /admin/webhooks/{id}/rotate-secret': 'own',
  'POST /admin/webhooks/{id}/test': 'own',
  'GET /admin/webhooks/{id}/deliveries': 'own',
};

const EVERYONE = ['owner', 'admin', 'viewer'] as const;
const WRITERS = ['owner', 'admin'] as const;
const OWNER = ['owner'] as const;

function rolesOf(method: Method, path: string): RoutePolicy['roles'] {
  return path.startsWith('/admin/admins') ? OWNER : method === 'GET' ? EVERYONE : WRITERS;
}

/** The policy table's rows, one per admin route. */
export const ADMIN_POLICY: readonly RoutePolicy[] = Object.entries(TENANT_ADMIN_ACCESS).map(([route, tenantAdmin]) => {
  const [method, path] = route.split(' ') as [Method, string];
  return { method, path, roles: rolesOf(method, path), tenantAdmin };
});

const POLICY_OF_ROUTE = new Map(ADMIN_POLICY.map((policy) => [`${policy.method} ${policy.path}`, policy]));

/** `/admin/keys/:id`, `/admin/models/:model{.+}` (Hono) and `/admin/keys/{id}` (OpenAPI) name the same route. */
export function canonicalPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z_][A-Za-z0-9_]*)(\{[^}]*\})?/g, '{$1}');
}

export function policyFor(method: string, pattern: string): RoutePolicy | undefined {
  return POLICY_OF_ROUTE.get(`${method.toUpperCase()} ${canonicalPath(pattern)}`);
}

/** The tenant an object belongs to, as the route found it; null when it belongs to none. */
export interface Target {
  tenantId: string | null;
}

export type Decision = 'allow' | 'forbidden' | 'not_found';

/**
 * Whether `principal` may call the route on `target`. For a `tenant_admin` on an `own` or
 * `own_read_only` route the decision depends on the object, so the route loads it first and passes
 * its tenant (`needsTarget`); without one the answer is `forbidden` — failing closed, so a route
 * that forgets to look never lets a tenant admin through. `target` null: the object does not exist.
 * On `own_rows` routes, `target` is the tenant the caller asked to filter by, if any. For owner,
 * admin and viewer the decision never depends on the target: a missing object is the route's 404.
 */
export function authorize(principal: Principal, method: string, pattern: string, target?: Target | null): Decision {
  const policy = policyFor(method, pattern);
  if (!policy) return 'forbidden';
  if (principal.role !== 'tenant_admin') return policy.roles.includes(principal.role) ? 'allow' : 'forbidden';
  return authorizeTenantAdmin(principal.tenantId, policy.tenantAdmin, target);
}

function authorizeTenantAdmin(own: string | null, access: TenantAdminAccess, target: Target | null | undefined): Decision {
  if (access === 'none' || own === null) return 'forbidden';
  if (access === 'own_rows') return target && target.tenantId !== own ? 'not_found' : 'allow';
  if (target === undefined) return 'forbidden';
  if (target === null || target.tenantId !== own) return 'not_found';
  return access === 'own' ? 'allow' : 'forbidden';
}

/** Whether the decision for this principal waits on the object's tenant (see `authorize`). */
export function needsTarget(principal: Principal, method: string, pattern: string): boolean {
  const access = policyFor(method, pattern)?.tenantAdmin;
  return principal.role === 'tenant_admin' && (access === 'own' || access === 'own_read_only');
}

/** The tenant every list a principal reads is narrowed to; null: it sees every tenant. */
export function tenantScope(principal: Principal): string | null {
  return principal.role === 'tenant_admin' ? principal.tenantId : null;
}

/**
 * The tenant a new object belongs to when the body may name one (`tenant_id`, null for every
 * tenant): whatever owner, admin and viewer ask; a tenant admin's own tenant, asked or not — another
 * tenant is `not_found` (as its objects are), every tenant (null) is `forbidden`.
 */
export function ownedTenant(principal: Principal, asked: string | null | undefined): { tenantId: string | null } | Exclude<Decision, 'allow'> {
  const scope = tenantScope(principal);
  if (scope === null) return { tenantId: asked ?? null };
  if (asked === null) return 'forbidden';
  return asked === undefined || asked === scope ? { tenantId: scope } : 'not_found';
}

/** The roles that may call a route, for the OpenAPI document: `['owner', 'admin', 'tenant_admin']`. */
export function rolesFor(method: string, pattern: string): Role[] {
  const policy = policyFor(method, pattern);
  if (!policy) return [];
  return policy.tenantAdmin === 'none' || policy.tenantAdmin === 'own_read_only' ? [...policy.roles] : [...policy.roles, 'tenant_admin'];
}

// ------------------------------------------------------------------ delegation

/**
 * The budget a key set by this principal must fit in: its tenant's for a tenant admin, who manages
 * keys within the budget the owner gave the tenant; none for the roles that set tenant budgets.
 */
export function keyBudgetCeiling(principal: Principal, tenantBudget: Nano | null): Nano | null {
  return principal.role === 'tenant_admin' ? tenantBudget : null;
}

/**
 * A key's budget may not exceed its tenant's (docs/admin.md). Amounts are compared as they are,
 * whatever the two periods; a key with no budget of its own is capped by the tenant's anyway.
 */
export function keyBudgetProblem(keyBudget: Nano | null | undefined, tenantBudget: Nano | null): FieldProblem | null {
  if (keyBudget === null || keyBudget === undefined || tenantBudget === null) return null;
  if (keyBudget <= tenantBudget) return null;
  return { param: 'budget_usd', message: "a key's budget_usd may not exceed its tenant's budget" };
}
