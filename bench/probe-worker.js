/**
 * What the local storage costs on its own: under Miniflare, D1, R2 and Durable Objects are
 * simulated inside the same workerd process as the Worker, so their CPU shows up as the Worker's.
 * Each route does one kind of call and nothing else; the bench measures workerd CPU per request
 * for each and subtracts `/noop`, to tell the gateway's own cost from the simulators'.
 */
import { DurableObject } from 'cloudflare:workers';

export class Probe extends DurableObject {
  ping() {
    return 1;
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
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
