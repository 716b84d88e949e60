import { createRoute } from '@hono/zod-openapi';
import { errorResponses, jsonAnswer, securityOf } from '../openapi/describe';
import { HealthAnswer } from '../schemas/answers';
import { routeGroup } from './route-group';

export const healthRoutes = routeGroup();

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  summary: 'Liveness',
  tags: ['meta'],
  ...securityOf('none'),
  responses: { 200: jsonAnswer('the Worker is up', HealthAnswer), ...errorResponses({ auth: 'none' }) },
});

healthRoutes.openapi(healthRoute, (c) => c.json({ ok: true as const }, 200));
