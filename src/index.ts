import { createApp } from './app';
import type { Env } from './env';

export { RateLimiter } from './durable-objects/rate-limiter';
export { Coalescer } from './durable-objects/coalescer';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(_controller, _env, _ctx) {},
} satisfies ExportedHandler<Env>;
