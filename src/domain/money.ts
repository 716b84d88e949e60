/**
 * Money is an integer number of nano-USD (1e-9 USD) everywhere inside the gateway (docs/money.md).
 * On the wire it is a decimal string of USD. No binary float ever touches an amount.
 */
export type Nano = bigint;

const NANO_PER_USD = 1_000_000_000n;

/** At most 9 decimals (nano-USD) and at most 12 integer digits: 999,999,999,999 USD is plenty. */
const USD_PATTERN = /^(\d{1,12})(?:\.(\d{1,9}))?$/;

/** Parses `"25.10"` into 25_100_000_000n exactly; undefined when the text is not a plain non-negative decimal. */
export function parseUsd(text: string): Nano | undefined {
  const match = USD_PATTERN.exec(text);
  if (!match) return undefined;
  const [, whole = '0', fraction = ''] = match;
  return BigInt(whole) * NANO_PER_USD + BigInt(fraction.padEnd(9, '0'));
}

/** Prints 1_992_295n as `"0.001992295"` and 25_000_000_000n as `"25"`: the shortest exact decimal. */
export function formatUsd(nano: Nano): string {
  const sign = nano < 0n ? '-' : '';
  const abs = nano < 0n ? -nano : nano;
  const whole = abs / NANO_PER_USD;
  const fraction = (abs % NANO_PER_USD).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** D1 returns INTEGER columns as JS numbers; amounts stay far below 2^53, but check rather than trust. */
export function nanoFromDb(value: number | bigint | null): Nano | null {
  if (value === null) return null;
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw new Error(`amount ${value} is not a safe integer`);
  return BigInt(value);
}

/** The inverse of nanoFromDb, for binding a parameter. */
export function nanoToDb(value: Nano): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`amount ${value} does not fit a safe integer`);
  return n;
}

/** An amount floored at zero: what is left of a budget an admin lowered below its spending is nothing, not a debt. */
export function atLeastZero(nano: Nano): Nano {
  return nano < 0n ? 0n : nano;
}
