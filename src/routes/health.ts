import { z } from '@hono/zod-openapi';
import { declareRoute, jsonAnswer } from '../openapi/describe';
import { HealthAnswer } from '../schemas/answers';
import { gatewayProblems } from '../services/gateway-problems';
import { routeGroup } from './route-group';

/**
 * `GET /healthz` (docs/operations.md): 200 when the Worker is up and its configuration can serve;
 * 503 with the problems (names of fields and variables, never values) when it cannot, so a deploy
 * with a broken ORIGINS fails its health check instead of every generation.
 */
export const healthRoutes = routeGroup();

export const UnhealthyAnswer = z
  .strictObject({ ok: z.literal(false), problems: z.array(z.string()).min(1).describe('what is wrong, e.g. "ORIGINS[0].url: Invalid URL"') })
  .openapi('Unhealthy');

const healthRoute = declareRoute({
  method: 'get',
  path: '/healthz',
  id: 'health',
  summary: 'Liveness and configuration',
  tag: 'meta',
  auth: 'none',
  answers: {
    200: jsonAnswer('the Worker is up and its configuration can serve', HealthAnswer),
    503: jsonAnswer('the configuration cannot serve generations', UnhealthyAnswer),
  },
});

healthRoutes.openapi(healthRoute, (c) => {
  const problems = gatewayProblems(c.env);
  return problems.length === 0 ? c.json({ ok: true as const }, 200) : c.json({ ok: false as const, problems }, 503);
});
