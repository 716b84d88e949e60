/**
 * The gateway's one logger: one JSON object per line, so Workers Logs (and `wrangler tail`) can
 * filter on its fields. Callers pass fields, never a key, a token, a secret or a prompt.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

function write(level: LogLevel, message: string, fields: LogFields): void {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

export const log = {
  info: (message: string, fields: LogFields = {}) => write('info', message, fields),
  warn: (message: string, fields: LogFields = {}) => write('warn', message, fields),
  error: (message: string, fields: LogFields = {}) => write('error', message, fields),
};

/** An unknown thrown value as a log field: its message, never its stack (stacks go with `internal` only). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
