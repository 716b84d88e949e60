import { createServer } from 'node:net';

/** A TCP port on `host` that nothing listens on right now (the OS picks it; the probe is closed again). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
