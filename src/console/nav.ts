import type { NavEntry } from './layout';
import type { ConsolePage } from './page';
import { auditPage } from './pages/audit';
import { modelsPage } from './pages/models';
import { overviewPage } from './pages/overview';
import { tenantsPage } from './pages/tenants';
import { webhooksPage } from './pages/webhooks';

/**
 * The console's pages, in the navigation's order. A new page is its file under ./pages plus one
 * entry here; `reads` names the admin route it reads, so the entry shows only to the roles that
 * may call it.
 */
export const NAV: readonly (NavEntry & { page: ConsolePage })[] = [
  { label: 'Overview', href: '/console', reads: ['GET', '/admin/usage'], page: overviewPage },
  { label: 'Tenants', href: '/console/tenants', reads: ['GET', '/admin/tenants'], page: tenantsPage },
  { label: 'Models', href: '/console/models', reads: ['GET', '/admin/models'], page: modelsPage },
  { label: 'Webhooks', href: '/console/webhooks', reads: ['GET', '/admin/webhooks'], page: webhooksPage },
  { label: 'Audit log', href: '/console/audit', reads: ['GET', '/admin/audit'], page: auditPage },
];
