import { describe, expect, it } from 'vitest';
import { currentSpent, periodEnd, periodKey, periodPhrase, periodStart, remainingOf, smallerRemaining } from '../../src/domain/budget-period';
import type { ModelSpec } from '../../src/domain/models';
import { formatUsd, parseUsd } from '../../src/domain/money';
import { extraSteps, priceOf } from '../../src/domain/pricing';
import { canonicalJson } from '../../src/routes/idempotency';

/** The seed row: 0.0019 USD per megapixel, 30 steps included, 0.00005 USD per extra step. */
const SD35: ModelSpec = {
  model: 'stabilityai/stable-diffusion-3.5-large',
  pricePerMegapixel: 1_900_000n,
  includedSteps: 30,
  pricePerExtraStep: 50_000n,
  priceVersion: 1,
  width: { min: 256, max: 2048, multipleOf: 16 },
  height: { min: 256, max: 2048, multipleOf: 16 },
  steps: { min: 1, max: 100 },
  cfg: { min: 0, max: 20 },
};

describe('priceOf (docs/money.md)', () => {
  it.each([
    // width, height, steps, nano-USD
    [1024, 1024, 30, 1_992_295n], // 1.048576 MP × 1,900,000 = 1,992,294.4 → ceil
    [1024, 1024, 40, 2_492_295n], // + 10 × 50,000
    [1024, 1024, 31, 2_042_295n],
    [1024, 1024, 29, 1_992_295n], // below the included steps: no discount
    [1024, 1024, 1, 1_992_295n],
    [256, 256, 30, 124_519n], // 65,536 px × 1.9 = 124,518.4 → ceil
    [16, 16, 30, 487n], // 256 px × 1.9 = 486.4 → ceil
    [1, 1, 30, 2n], // 1.9 → 2: the tiniest image still costs something
    [2048, 2048, 30, 7_969_178n], // 4,194,304 × 1.9 = 7,969,177.6 → ceil
    [2048, 2048, 100, 11_469_178n], // + 70 × 50,000
    [1000, 1000, 30, 1_900_000n], // exactly one megapixel: no rounding at all
    [16384, 16384, 10_000, 1_008_527_367n], // huge: 268,435,456 × 1.9 = 510,027,366.4 → 510,027,367, + 9,970 × 50,000
  ])('%i×%i at %i steps costs %i nano-USD', (width, height, steps, nano) => {
    expect(priceOf(SD35, { width, height, steps })).toBe(nano);
  });

  it('prints the documented figures exactly', () => {
    expect(formatUsd(priceOf(SD35, { width: 1024, height: 1024, steps: 30 }))).toBe('0.001992295');
    expect(formatUsd(priceOf(SD35, { width: 1024, height: 1024, steps: 40 }))).toBe('0.002492295');
  });

  it('follows a custom price row', () => {
    const custom: ModelSpec = { ...SD35, model: 'x/custom', pricePerMegapixel: 3n, includedSteps: 0, pricePerExtraStep: 1n };
    // 1,048,576 px × 3 nano / 1e6 = 3.145728 → 4; plus 20 steps × 1
    expect(priceOf(custom, { width: 1024, height: 1024, steps: 20 })).toBe(24n);
    const free: ModelSpec = { ...SD35, pricePerMegapixel: 0n, pricePerExtraStep: 0n };
    expect(priceOf(free, { width: 2048, height: 2048, steps: 100 })).toBe(0n);
    expect(extraSteps(SD35, 29)).toBe(0);
    expect(extraSteps(SD35, 30)).toBe(0);
    expect(extraSteps(SD35, 31)).toBe(1);
  });
});

describe('USD decimal strings', () => {
  it.each([
    ['25.10', 25_100_000_000n],
    ['0.001992295', 1_992_295n],
    ['0', 0n],
    ['0.000000001', 1n],
    ['999999999999.999999999', 999_999_999_999_999_999_999n],
  ])('parses %s exactly', (text, nano) => {
    expect(parseUsd(text)).toBe(nano);
  });

  it.each(['1e3', '-1', '0.0000000001', '', '.5', '5.', '+1', ' 1', '1 ', '0x10', 'NaN', 'Infinity', '1,5', '1_000', '１'])('rejects %j', (text) => {
    expect(parseUsd(text)).toBeUndefined();
  });

  it('formats the shortest exact decimal', () => {
    expect(formatUsd(25_100_000_000n)).toBe('25.1');
    expect(formatUsd(25_000_000_000n)).toBe('25');
    expect(formatUsd(1n)).toBe('0.000000001');
    expect(formatUsd(0n)).toBe('0');
    // 0.1 + 0.2 in floats is 0.30000000000000004; in nano-USD it is exact
    expect(formatUsd(parseUsd('0.1')! + parseUsd('0.2')!)).toBe('0.3');
  });
});

describe('budget periods (UTC calendar; weeks from Monday)', () => {
  const at = (iso: string) => Date.parse(iso);
  it.each([
    ['2026-11-26T15:00:00Z', 'day:2026-11-26', 'week:2026-11-23', 'month:2026-11-01'], // Thursday
    ['2026-11-23T00:00:00Z', 'day:2026-11-23', 'week:2026-11-23', 'month:2026-11-01'], // Monday midnight
    ['2026-11-29T23:59:59.999Z', 'day:2026-11-29', 'week:2026-11-23', 'month:2026-11-01'], // Sunday, last ms
    ['2027-01-01T00:00:00Z', 'day:2027-01-01', 'week:2026-12-28', 'month:2027-01-01'], // a week across the new year
    ['2028-02-29T12:00:00Z', 'day:2028-02-29', 'week:2028-02-28', 'month:2028-02-01'], // leap day
  ])('%s', (iso, day, week, month) => {
    expect(periodKey('day', at(iso))).toBe(day);
    expect(periodKey('week', at(iso))).toBe(week);
    expect(periodKey('month', at(iso))).toBe(month);
    expect(periodKey('none', at(iso))).toBe('none');
  });

  it('knows when each period ends', () => {
    const t = at('2026-12-31T10:00:00Z');
    expect(new Date(periodEnd('day', t)!).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(new Date(periodEnd('week', t)!).toISOString()).toBe('2027-01-04T00:00:00.000Z');
    expect(new Date(periodEnd('month', t)!).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(periodEnd('none', t)).toBeNull();
    expect(periodStart('none', t)).toBe(0);
    expect(periodPhrase('month')).toBe('this month');
    expect(periodPhrase('none')).toBe('in total');
  });

  it('a row from an earlier period has spent nothing in this one', () => {
    const state = { budgetNano: 100n, budgetPeriod: 'month' as const, periodKey: 'month:2026-10-01', spentNano: 90n, reservedNano: 5n };
    const now = at('2026-11-02T00:00:00Z');
    expect(currentSpent(state, now)).toBe(0n);
    expect(remainingOf(state, now)).toBe(95n);
    expect(remainingOf({ ...state, periodKey: 'month:2026-11-01' }, now)).toBe(5n);
    expect(remainingOf({ ...state, budgetNano: null }, now)).toBeNull();
    expect(smallerRemaining(null, 3n)).toBe(3n);
    expect(smallerRemaining(4n, 3n)).toBe(3n);
    expect(smallerRemaining(null, null)).toBeNull();
  });
});

describe('canonicalJson (what "the same body" means for Idempotency-Key)', () => {
  it('ignores key order and undefined fields, keeps everything else', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[1,{"x":1,"y":2}]},"b":1}');
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
  });
});
