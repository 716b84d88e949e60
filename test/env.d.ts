import type { D1Migration } from 'cloudflare:test';
import type { Env as AppBindings } from '../src/env';

declare global {
  namespace Cloudflare {
    interface Env extends AppBindings {
      TEST_MIGRATIONS: D1Migration[];
      /** How many ledger rows test/attribution/report-scale.test.ts builds. */
      REPORT_SCALE_ROWS: string;
    }
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Port of the loopback origin server started in global-setup.ts. */
    originPort: number;
  }
}
