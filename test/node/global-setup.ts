import type { TestProject } from 'vitest/node';
import { startTestOrigin } from './test-origin';

/** Starts the loopback origin every test talks to, and hands its port to the tests. */
export default async function setup(project: TestProject) {
  const origin = await startTestOrigin();
  project.provide('originPort', origin.port);
  return async () => {
    await origin.close();
  };
}
