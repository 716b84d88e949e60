import { describe, expect, it } from 'vitest';
import { requestLifetimes, type RequestLifetimes } from '../../src/domain/lifetimes';

const MINUTE = 60_000;

/** The order src/domain/lifetimes.ts promises, as pairs (shorter, longer, strictly?). */
const ORDER: [keyof RequestLifetimes, keyof RequestLifetimes, 'lt' | 'le'][] = [
  ['originMs', 'mergeLeadMs', 'lt'],
  ['mergeLeadMs', 'followerWaitMs', 'le'],
  ['mergeLeadMs', 'slotLeaseMs', 'le'],
  ['slotLeaseMs', 'reservationMs', 'le'],
  ['reservationMs', 'idempotencyLeaseMs', 'le'],
];

describe('request lifetimes', () => {
  const cases: [string, number, number | undefined][] = [
    ['the default deadline', 180_000, undefined],
    ['a short deadline', 5_000, undefined],
    ['one 120 s origin under the default deadline', 180_000, 120_000],
    ['a chain longer than the deadline', 60_000, 240_000],
    ['an hour-long deadline', 60 * MINUTE, 60 * MINUTE],
    ['a chain of nothing (no origin serves the model)', 180_000, 0],
  ];
  for (const [name, deadline, chain] of cases) {
    it(`keep their order: ${name}`, () => {
      const l = requestLifetimes(deadline, chain);
      for (const [shorter, longer, how] of ORDER) {
        if (how === 'lt') expect(l[shorter], `${shorter} < ${longer}`).toBeLessThan(l[longer]);
        else expect(l[shorter], `${shorter} <= ${longer}`).toBeLessThanOrEqual(l[longer]);
      }
    });
  }

  it('caps the origin time at the deadline and covers the whole deadline with the reservation', () => {
    const l = requestLifetimes(60_000, 240_000);
    expect(l.originMs).toBe(60_000);
    expect(l.reservationMs).toBeGreaterThan(60_000);
    expect(l.slotLeaseMs).toBeGreaterThan(60_000);
  });
});
