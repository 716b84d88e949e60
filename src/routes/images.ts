import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, Env } from '../env';
import { checkImageSignature } from '../domain/signed-links';
import { linkSecret } from '../services/image-links';
import { ApiError } from '../errors';
import { tenantAuth } from '../middleware/tenant-auth';
import { errorResponses, IMAGE_CONTENT, securityOf } from '../openapi/describe';
import { IdParam } from '../schemas/requests';
import { getImage, getImageById } from '../storage/images';
import { routeGroup } from './route-group';

/**
 * `GET /v1/images/{id}`: an image this tenant generated, asked for with the tenant's key (404 for
 * anybody else's), or through a signed link from a generation answer, with no key, until the link
 * expires (docs/generation.md, "Image links").
 */
export const imageRoutes = routeGroup();

/** A request that carries either part of a signed link is judged by the link alone, whatever key it sends. */
function signedQuery(c: Context<AppEnv>): { exp: string | undefined; sig: string | undefined } | null {
  const exp = c.req.query('exp');
  const sig = c.req.query('sig');
  return exp === undefined && sig === undefined ? null : { exp, sig };
}

const REFUSALS = {
  expired: 'this image link has expired: ask for the image again, or send the tenant key without exp and sig',
  bad_signature: 'this image link has a wrong signature: it was not made by this gateway for this image and expiry',
  malformed: 'this image link is malformed: it needs both exp (unix seconds) and sig, as a generation answer gives them',
} as const;

/** 403 unless the link's signature is right for this id and it has not expired. */
async function checkLink(c: Context<AppEnv>, id: string, link: { exp: string | undefined; sig: string | undefined }): Promise<void> {
  const secret = linkSecret(c.env);
  if (secret === null) throw new ApiError('forbidden', 'this gateway does not sign image links (IMAGE_URL_SECRET is not set): send the tenant key');
  const check = await checkImageSignature(secret, id, link.exp, link.sig, Math.floor(c.var.deps.now() / 1000));
  if (!check.ok) throw new ApiError('forbidden', REFUSALS[check.reason]);
}

/** A signed link lets the request through with no key; anything else needs the tenant's key. */
function keyOrSignedLink(): MiddlewareHandler<AppEnv> {
  const keyAuth = tenantAuth();
  return async function imageAccess(c, next) {
    const link = signedQuery(c);
    if (link === null) return keyAuth(c, next);
    await checkLink(c, c.req.param('id') ?? '', link);
    await next();
  };
}

const ERRORS = errorResponses({ auth: 'tenant', errors: ['not_found'] });
const FORBIDDEN = ERRORS[403];
if (FORBIDDEN) FORBIDDEN.description += '. On a signed link: it has expired, or its signature is wrong (the message says which)';

const imageRoute = createRoute({
  method: 'get',
  path: '/v1/images/{id}',
  operationId: 'getImage',
  summary: 'An image this tenant generated',
  description:
    "With the tenant's key: the image, or 404 for an id that is not the caller tenant's. With `exp` and `sig` (the signed `url` of a generation answer): the image with no key, until `exp`; 403 when the link has expired or its signature is wrong. A request carrying `exp` or `sig` is judged by the link alone.",
  tags: ['generation'],
  security: [...securityOf('tenant').security, {}],
  middleware: keyOrSignedLink(),
  request: {
    params: IdParam('the id from a generation answer (`id`, or the end of `url`)'),
    query: z.object({
      exp: z.string().optional().openapi({ description: 'signed links: the unix second from which the link no longer works' }),
      sig: z.string().optional().openapi({ description: 'signed links: the HMAC-SHA256 signature, base64url' }),
    }),
  },
  responses: {
    200: { description: 'the image bytes', content: IMAGE_CONTENT },
    ...ERRORS,
  },
});

imageRoutes.openapi(imageRoute, async function getImageRoute(c) {
  const { id } = c.req.valid('param');
  const { exp } = c.req.valid('query');
  const signed = signedQuery(c) !== null;
  const object = signed ? await getImageById(c.env.DB, c.env.IMAGES, id) : await getImage(c.env.DB, c.env.IMAGES, c.var.caller.tenant.id, id);
  if (!object) throw new ApiError('not_found', 'no such image');
  // a signed link may be cached by the browser only for as long as the link itself works
  const maxAge = signed ? Math.max(0, Number(exp) - Math.floor(c.var.deps.now() / 1000)) : 86_400;
  return new Response(object.body, {
    headers: {
      'Content-Type': object.httpMetadata?.contentType ?? 'application/octet-stream',
      'Content-Length': String(object.size),
      'Cache-Control': signed ? `private, max-age=${maxAge}` : 'private, max-age=86400, immutable',
    },
  });
});
