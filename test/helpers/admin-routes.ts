/**
 * One request for every admin route (docs/admin.md), with a body where the route takes one, for
 * the tests that every route is refused alike (no token, a wrong one, the admin API switched off).
 * Ids name nothing: auth is decided before any lookup. A route added to the admin API belongs here.
 */
export const ADMIN_ROUTE_SAMPLES: [method: string, path: string, json?: unknown][] = [
  ['POST', '/admin/tenants', { name: 'x' }],
  ['GET', '/admin/tenants'],
  ['GET', '/admin/tenants/ten_x'],
  ['PATCH', '/admin/tenants/ten_x', { name: 'y' }],
  ['POST', '/admin/tenants/ten_x/keys', { name: 'k' }],
  ['GET', '/admin/keys/key_x'],
  ['PATCH', '/admin/keys/key_x', { disabled: true }],
  ['DELETE', '/admin/keys/key_x'],
  ['POST', '/admin/keys/key_x/rotate'],
  ['GET', '/admin/models'],
  ['GET', '/admin/models/stabilityai%2Fstable-diffusion-3.5-large'],
  ['GET', '/admin/models/stabilityai/stable-diffusion-3.5-large'],
  ['PUT', '/admin/models/stabilityai%2Fstable-diffusion-3.5-large', { name: 'x' }],
  ['PUT', '/admin/models/a%2Fb', {}],
  ['GET', '/admin/usage'],
  ['GET', '/admin/usage?format=csv'],
  ['GET', '/admin/audit'],
  ['GET', '/admin/metrics'],
  ['POST', '/admin/admins', { name: 'x', role: 'viewer' }],
  ['GET', '/admin/admins'],
  ['GET', '/admin/admins/adm_x'],
  ['DELETE', '/admin/admins/adm_x'],
  ['POST', '/admin/admins/adm_x/rotate'],
  ['POST', '/admin/webhooks', { url: 'https://hooks.example.com/x', events: ['*'] }],
  ['GET', '/admin/webhooks'],
  ['GET', '/admin/webhooks/wh_x'],
  ['DELETE', '/admin/webhooks/wh_x'],
  ['POST', '/admin/webhooks/wh_x/rotate-secret'],
  ['POST', '/admin/webhooks/wh_x/test'],
  ['GET', '/admin/webhooks/wh_x/deliveries'],
];
