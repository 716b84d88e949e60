import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { createApp } from '../../src/app';
import type { TestEnv } from '../helpers/api';

export interface SdkClient {
  client: OpenAI;
  /** Every request the SDK sent, in order (so a retry would show as a second one). */
  sent: Request[];
}

/**
 * The real `openai` SDK, its fetch going straight into the Worker under test (same app, same
 * middleware as production) and waiting on the execution context like the runtime would.
 */
export function sdkClient(apiKey: string, options: { env?: TestEnv; app?: ReturnType<typeof createApp>; maxRetries?: number } = {}): SdkClient {
  const app = options.app ?? createApp();
  const sent: Request[] = [];
  const workerFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    sent.push(request.clone());
    const ctx = createExecutionContext();
    const response = await app.fetch(request, options.env ?? env, ctx);
    const body = await response.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return new Response(body, { status: response.status, headers: response.headers });
  };
  const client = new OpenAI({
    apiKey,
    baseURL: 'http://gateway.test/v1',
    fetch: workerFetch,
    maxRetries: options.maxRetries ?? 0,
  });
  return { client, sent };
}
