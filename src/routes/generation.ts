import { fromQubridBody, requestedModel } from '../domain/generation-request';
import { declareRoute, GENERATION_ERRORS, GENERATION_HEADERS, IMAGE_CONTENT, jsonBody } from '../openapi/describe';
import { QubridJsonAnswer } from '../schemas/answers';
import { QubridBody, QubridGenerationHeaders } from '../schemas/requests';
import { requireOriginConfig } from '../services/gateway-problems';
import { checkedOrThrow } from './failures';
import { modelFor, qubridAnswer, runGenerations } from './generation-response';
import { routeGroup } from './route-group';

/** `POST /image/generation`: Qubrid's own body and semantics (docs/generation.md). */
export const generationRoutes = routeGroup();

const qubridRoute = declareRoute({
  method: 'post',
  path: '/image/generation',
  id: 'generateImage',
  summary: 'Generate an image (Qubrid-compatible)',
  description:
    "Qubrid's own body, so an existing client switches by changing the URL and key. Answers the image itself, or with `Accept: application/json` a JSON description. Width, height, steps and cfg are checked against the model's limits (SD 3.5 Large: 256–2048 in multiples of 16, steps 1–100, cfg 0–20; defaults 1024×1024, 30 steps, cfg 7.5). Without a seed the gateway draws one and reports it. An unknown field is a 400 naming it.",
  tag: 'generation',
  auth: 'tenant',
  headers: QubridGenerationHeaders,
  body: jsonBody(QubridBody),
  answers: {
    200: {
      description: 'the image (Content-Type by `output_format`), or its JSON description',
      headers: GENERATION_HEADERS,
      content: { ...IMAGE_CONTENT, 'application/json': { schema: QubridJsonAnswer } },
    },
  },
  errors: GENERATION_ERRORS,
});

generationRoutes.openapi(qubridRoute, async function qubridGeneration(c) {
  const body = c.req.valid('json');
  const spec = await modelFor(c, requestedModel(body));
  const request = checkedOrThrow(fromQubridBody(body, spec));
  requireOriginConfig(c.env, c.var.requestId);
  return runGenerations(c, spec, [request], { route: 'image/generation', parsed: request }, (result) => qubridAnswer(c, result));
});
