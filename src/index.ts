import { createApp } from './app';
import type { Env } from './env';
import { runHousekeeping } from './services/housekeeping';
import { deliverBatch } from './services/webhooks/deliver';

export { RateLimiter } from './durable-objects/rate-limiter';
export { Coalescer } from './durable-objects/coalescer';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    await runHousekeeping(env, controller.scheduledTime);
  },
  // webhook deliveries (docs/webhooks.md): WEBHOOK_QUEUE's consumer
  async queue(batch, env, _ctx) {
    await deliverBatch(batch, env);
  },
} satisfies ExportedHandler<Env>;
