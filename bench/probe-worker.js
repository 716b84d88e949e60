/**
 * What the local storage costs on its own: under Miniflare, D1, R2 and Durable Objects are
 * simulated inside the same workerd process as the Worker, so their CPU shows up as the Worker's.
 * Each route does one kind of call and nothing else; the bench measures workerd CPU per request
 * for each and subtracts `/noop`, to tell the gateway's own cost from the simulators'.
 *
 * The storage floors (`/floor/miss`, `/floor/hit`) make, in one request and in the gateway's order,
 * the storage calls a request on that path cannot do without, in their cheapest form, and nothing
 * else: what any gateway that caches, coalesces and reserves exactly would pay here before it ran
 * a line of its own (bench/README.md, "Billed CPU" and "The storage floor").
 */
import { DurableObject } from 'cloudflare:workers';

export class Probe extends DurableObject {
  ping() {
    return 1;
  }
}

let png = null; // the bench's image, read once from the 'fixed' object the bench stores first

/** Four cheap statements, as many as each of a miss's two D1 batches (reserve, settle) has. */
const fourStatements = (env) => [
  env.DB.prepare('UPDATE probe SET n = n + 1 WHERE id = 1'),
  env.DB.prepare('INSERT INTO probe_log (at) VALUES (?)').bind(Date.now()),
  env.DB.prepare('UPDATE probe SET n = n + 1 WHERE id = 1'),
  env.DB.prepare('SELECT n FROM probe WHERE id = 1'),
];

/**
 * A miss: cache lookup (finds nothing), join ‖ reserve, the origin (forwarded as the floor Worker
 * does), the image into R2, settle, then the coalescer's finish after the answer.
 */
async function missFloor(request, env, ctx) {
  png ??= new Uint8Array(await (await env.BUCKET.get('fixed')).arrayBuffer());
  const id = crypto.randomUUID();
  await env.BUCKET.get(`img/${id}`, { range: { offset: 0, length: 16 } });
  const coalescer = env.PROBE.get(env.PROBE.idFromName(id));
  await Promise.all([coalescer.ping(), env.DB.batch(fourStatements(env))]);
  const answer = await fetch(env.ORIGIN_URL, { method: 'POST', headers: request.headers, body: request.body });
  const body = await answer.arrayBuffer();
  await env.BUCKET.put(`img/${id}`, png);
  await env.DB.batch(fourStatements(env));
  ctx.waitUntil(coalescer.ping());
  return new Response(body, { status: answer.status, headers: { 'content-type': 'application/json' } });
}

/**
 * A hit: the whole image read from R2 (the gateway reads it whole to check it), then its ledger
 * row, one INSERT. Answers two bytes: sending the image on is the gateway's own work, not storage.
 */
async function hitFloor(env) {
  const object = await env.BUCKET.get('fixed');
  await object.arrayBuffer();
  await env.DB.prepare('INSERT INTO probe_log (at) VALUES (?)').bind(Date.now()).run();
  return new Response('ok');
}

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === '/floor/miss') return missFloor(request, env, ctx);
    if (path === '/floor/hit') return hitFloor(env);
    if (path === '/noop') return new Response('ok');
    if (path === '/r2put') {
      await env.BUCKET.put(`p/${crypto.randomUUID()}`, await request.arrayBuffer());
      return new Response('ok');
    }
    if (path === '/r2get') {
      const object = await env.BUCKET.get('fixed');
      return new Response(object ? await object.arrayBuffer() : 'missing', { status: object ? 200 : 404 });
    }
    if (path === '/r2get-small') {
      await request.arrayBuffer();
      const object = await env.BUCKET.get('fixed', { range: { offset: 0, length: 16 } });
      return new Response(object ? 'ok' : 'missing', { status: object ? 200 : 404 });
    }
    if (path === '/r2head') {
      const object = await env.BUCKET.head('fixed');
      return new Response(object ? 'ok' : 'missing', { status: object ? 200 : 404 });
    }
    if (path === '/d1read') {
      await env.DB.prepare('SELECT n FROM probe WHERE id = 1').first();
      return new Response('ok');
    }
    if (path === '/d1write') {
      await env.DB.batch([
        env.DB.prepare('UPDATE probe SET n = n + 1 WHERE id = 1'),
        env.DB.prepare('INSERT INTO probe_log (at) VALUES (?)').bind(Date.now()),
      ]);
      return new Response('ok');
    }
    if (path === '/do') {
      await env.PROBE.get(env.PROBE.idFromName('probe')).ping();
      return new Response('ok');
    }
    return new Response('no such probe', { status: 404 });
  },
};
