/**
 * A real loopback webhook receiver for the tests (runs in Node, started by global-setup.ts).
 *
 * Every test uses its own hook name, so tests never see each other's deliveries:
 *   POST /hooks/{name}         a delivery: recorded, then answered as scripted (200 by default)
 *   POST /__script/{name}      body [500, 500, "hang", …]: answers for the next deliveries, in order;
 *                              a number is that status, "hang" never answers
 *   GET  /__received/{name}    what arrived: [{ headers, body, answered }], body as the exact text
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  /** The status it was answered with; null when it was left hanging. */
  answered: number | null;
}

export interface WebhookReceiver {
  port: number;
  close: () => Promise<void>;
}

type Answer = number | 'hang';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') out[name] = value;
  return out;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Map<string, ReceivedDelivery[]>();
  const scripts = new Map<string, Answer[]>();
  const hanging = new Set<ServerResponse>();

  const server = createServer(async (req, res) => {
    const [, kind, name = ''] = (req.url ?? '/').split('?')[0]!.split('/');
    const body = await readBody(req);
    if (req.method === 'POST' && kind === '__script') {
      scripts.set(name, JSON.parse(body) as Answer[]);
      return json(res, 204, null);
    }
    if (req.method === 'GET' && kind === '__received') return json(res, 200, received.get(name) ?? []);
    if (req.method !== 'POST' || kind !== 'hooks') return json(res, 404, { error: 'unknown receiver route' });
    const answer = scripts.get(name)?.shift() ?? 200;
    const list = received.get(name) ?? [];
    received.set(name, list);
    list.push({ headers: headersOf(req), body, answered: answer === 'hang' ? null : answer });
    if (answer === 'hang') {
      hanging.add(res);
      return;
    }
    json(res, answer, { received: true });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
