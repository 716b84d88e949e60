import type { TestProject } from 'vitest/node';
import { startTestOrigin } from './test-origin';
import { startWebhookReceiver } from './webhook-receiver';

/** Starts the loopback origin and the loopback webhook receiver every test talks to, and hands their ports to the tests. */
export default async function setup(project: TestProject) {
  const origin = await startTestOrigin();
  const receiver = await startWebhookReceiver();
  project.provide('originPort', origin.port);
  project.provide('webhookPort', receiver.port);
  return async () => {
    await Promise.all([origin.close(), receiver.close()]);
  };
}
