import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    originPort: number;
  }
}
