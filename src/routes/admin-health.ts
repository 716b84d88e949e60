import { z } from '@hono/zod-openapi';
import { declareRoute, jsonAnswer } from '../openapi/describe';
import { breakerState } from '../origins/breaker';
import { parseOrigins } from '../origins/config';
import { gatewayProblems } from '../services/gateway-problems';
import { ledgerMatchesSpent, openReservations } from '../storage/health';
import { routeGroup } from './route-group';

/**
 * `GET /admin/health` (docs/operations.md): the origins with their breakers (this isolate's view),
 * the budget reservations still open, whether the ledger agrees with the spent counters, and the
 * configuration's problems.
 */
export const adminHealthRoutes = routeGroup();

const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
/** The breaker's own words, as the answer spells them (snake_case, like every other enum value). */
const BREAKER_WORD = { closed: 'closed', open: 'open', 'half-open': 'half_open' } as const satisfies Record<string, (typeof BREAKER_STATES)[number]>;

export const AdminHealthAnswer = z
  .strictObject({
    origins: z.array(
      z.strictObject({
        name: z.string(),
        kind: z.string(),
        models: z.array(z.string()),
        breaker: z.enum(BREAKER_STATES).describe("this isolate's view of the origin's circuit breaker"),
      }),
    ),
    reservations: z.strictObject({
      open: z.int().min(0).describe('budget reservations not yet settled, released or expired by the cron'),
      oldest_age_s: z.int().min(0).nullable().describe('age of the oldest one in seconds; null when none is open'),
    }),
    ledger_matches_spent: z.boolean().describe("for every key and tenant, the current period's ledger sum equals its spent amount"),
    problems: z.array(z.string()).describe('what is wrong with the configuration; empty when nothing is'),
  })
  .openapi('AdminHealth');

const adminHealthRoute = declareRoute({
  method: 'get',
  path: '/admin/health',
  id: 'adminHealth',
  summary: 'Origins, breakers, open reservations and the ledger check',
  tag: 'admin: health',
  auth: 'admin',
  answers: { 200: jsonAnswer('the gateway as this isolate sees it', AdminHealthAnswer) },
});

adminHealthRoutes.openapi(adminHealthRoute, async function adminHealth(c) {
  const now = c.var.deps.now();
  const parsed = parseOrigins(c.env.ORIGINS);
  const origins = (parsed.ok ? parsed.origins : []).map((o) => ({
    name: o.name,
    kind: o.kind,
    models: o.models,
    breaker: BREAKER_WORD[breakerState(o, now)],
  }));
  const [reservations, matches] = await Promise.all([openReservations(c.env.DB), ledgerMatchesSpent(c.env.DB, now)]);
  return c.json(
    {
      origins,
      reservations: {
        open: reservations.open,
        oldest_age_s: reservations.oldestAt === null ? null : Math.max(0, Math.floor((now - reservations.oldestAt) / 1000)),
      },
      ledger_matches_spent: matches,
      problems: gatewayProblems(c.env),
    },
    200,
  );
});
