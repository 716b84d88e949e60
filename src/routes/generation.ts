import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { fromQubridBody, QubridBodySchema, requestedModel, zodToApiError } from '../domain/generation-request';
import { readJsonObject } from '../middleware/json-body';
import { tenantAuth } from '../middleware/tenant-auth';
import { modelFor, qubridAnswer, runGenerations } from './generation-response';

/** `POST /image/generation`: Qubrid's own body and semantics (CONTRACT §3). */
export const generationRoutes = new Hono<AppEnv>();

generationRoutes.post('/image/generation', tenantAuth(), async function qubridGeneration(c) {
  const raw = await readJsonObject(c);
  const parsed = QubridBodySchema.safeParse(raw);
  if (!parsed.success) throw zodToApiError(parsed.error);
  const model = requestedModel(parsed.data);
  const spec = await modelFor(c, model);
  const request = fromQubridBody(parsed.data, spec);
  return runGenerations(c, spec, [request], { route: 'image/generation', parsed: request }, (result) => qubridAnswer(c, result));
});
