import { createApp } from './app';
import type { Env } from './env';
import { runHousekeeping } from './services/housekeeping';

export { RateLimiter } from './durable-objects/rate-limiter';
export { Coalescer } from './durable-objects/coalescer';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    await runHousekeeping(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
