import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    originPort: number;
    /** The loopback webhook receiver (webhook-receiver.ts). */
    webhookPort: number;
  }
}
