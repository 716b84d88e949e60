import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { tenantAuth } from '../middleware/tenant-auth';
import { getImage } from '../storage/images';

/** `GET /v1/images/{id}`: an image this tenant generated; 404 for anybody else's. */
export const imageRoutes = new Hono<AppEnv>();

imageRoutes.get('/v1/images/:id', tenantAuth(), async function getOwnImage(c) {
  const object = await getImage(c.env.DB, c.env.IMAGES, c.var.caller.tenant.id, c.req.param('id'));
  if (!object) throw new ApiError('not_found', 'no such image');
  return new Response(object.body, {
    headers: {
      'Content-Type': object.httpMetadata?.contentType ?? 'application/octet-stream',
      'Content-Length': String(object.size),
      'Cache-Control': 'private, max-age=86400, immutable',
    },
  });
});
