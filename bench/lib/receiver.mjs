/**
 * The soak's webhook receiver (bench/README.md, "Webhooks in the soak"): a loopback HTTP server
 * with one path per endpoint (`/<name>`), which fails on purpose so the gateway has to retry.
 * For each POST, in order of arrival, a seeded PRNG picks the answer:
 *   - `failFraction` of them: 500 at once;
 *   - `hangFraction`: no answer for `hangMs` (20 s: well past the gateway's 10 s timeout, so a
 *     timer that fires a little late on a loaded machine is not taken for a missing timeout), then
 *     204, which the gateway must have stopped waiting for (`abandoned`);
 *   - `slowFraction`: 204 after 0.5–2 s (within the timeout: delivered);
 *   - the rest: 204 at once.
 * A hang is a failed attempt like a 500, so a delivery fails for good only when six attempts in a
 * row draw one of the two: (fail + hang)^6, about 2·10⁻⁵ per delivery at the defaults.
 * Every arrival is kept (endpoint, webhook-id, what it answered, the raw body), and each body is
 * verified with the official `standardwebhooks` package against that endpoint's secret, before it
 * is parsed, as a receiver should.
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export const RECEIVER_DEFAULTS = { failFraction: 0.15, hangFraction: 0.01, slowFraction: 0.05, hangMs: 20_000, seed: 15 };

/** mulberry32: a small seeded PRNG, so a run's sequence of answers can be replayed. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Starts the receiver on 127.0.0.1 (a free port). Resolves with
 *   url(name)              the URL of the endpoint `name`
 *   setSecret(name, secret) the secret its deliveries are verified with (known once it is created)
 *   arrivals               every POST: { endpoint, id, type, answer (204 | 500 | 'hang'), verified, error, body, at,
 *                          answered (ms after arrival), abandoned (the sender had hung up by then) }
 *   stop()
 */
export async function startReceiver(options = {}) {
  const o = { ...RECEIVER_DEFAULTS, ...options };
  const random = seededRandom(o.seed);
  const verifiers = new Map();
  const arrivals = [];
  const timers = new Set();
  const later = (ms, fn) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const arrival = arrive(req, body);
      arrivals.push(arrival);
      const answer = (status) => {
        arrival.answered = Date.now() - arrival.at;
        arrival.abandoned = res.destroyed || req.socket.destroyed;
        if (!res.destroyed) res.writeHead(status).end();
      };
      if (arrival.answer === 'hang') later(o.hangMs, () => answer(204));
      else if (arrival.slowMs) later(arrival.slowMs, () => answer(204));
      else answer(arrival.answer);
    });
  });
  // one arrival: checked and recorded before its answer is chosen, whatever the answer
  function arrive(req, body) {
    const endpoint = new URL(req.url, 'http://x').pathname.slice(1);
    const arrival = { endpoint, id: req.headers['webhook-id'] ?? null, type: null, answer: 204, verified: false, error: null, body, at: Date.now() };
    const verifier = verifiers.get(endpoint);
    if (req.method !== 'POST' || !verifier) arrival.error = `${req.method} to an unknown endpoint`;
    else {
      try {
        arrival.type = verifier.verify(body, req.headers)?.type ?? null;
        arrival.verified = true;
      } catch (err) {
        arrival.error = `not verified: ${err.message}`;
      }
    }
    const roll = random();
    if (roll < o.failFraction) arrival.answer = 500;
    else if (roll < o.failFraction + o.hangFraction) arrival.answer = 'hang';
    else if (roll < o.failFraction + o.hangFraction + o.slowFraction) arrival.slowMs = 500 + Math.floor(random() * 1500);
    return arrival;
  }
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    options: o,
    arrivals,
    url: (name) => `${base}/${name}`,
    setSecret: (name, secret) => verifiers.set(name, new Webhook(secret)),
    stop: () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections?.();
      server.close();
    },
  };
}
