import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../errors';
import { tenantAuth } from '../middleware/tenant-auth';
import { errorResponses, IMAGE_CONTENT, securityOf } from '../openapi/describe';
import { IdParam } from '../schemas/requests';
import { getImage } from '../storage/images';
import { routeGroup } from './route-group';

/** `GET /v1/images/{id}`: an image this tenant generated; 404 for anybody else's. */
export const imageRoutes = routeGroup();

const imageRoute = createRoute({
  method: 'get',
  path: '/v1/images/{id}',
  operationId: 'getImage',
  summary: 'An image this tenant generated',
  description: "404 for an id that is not the caller tenant's.",
  tags: ['generation'],
  ...securityOf('tenant'),
  middleware: tenantAuth(),
  request: { params: IdParam('the id from a generation answer (`id`, or the end of `url`)') },
  responses: { 200: { description: 'the image bytes', content: IMAGE_CONTENT }, ...errorResponses({ auth: 'tenant', errors: ['not_found'] }) },
});

imageRoutes.openapi(imageRoute, async function getOwnImage(c) {
  const object = await getImage(c.env.DB, c.env.IMAGES, c.var.caller.tenant.id, c.req.valid('param').id);
  if (!object) throw new ApiError('not_found', 'no such image');
  return new Response(object.body, {
    headers: {
      'Content-Type': object.httpMetadata?.contentType ?? 'application/octet-stream',
      'Content-Length': String(object.size),
      'Cache-Control': 'private, max-age=86400, immutable',
    },
  });
});
