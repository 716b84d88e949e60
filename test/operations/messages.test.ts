import { beforeAll, describe, expect, it } from 'vitest';
import { call, loopback, originCalls } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';

/** Validator messages read like the domain's own: the field, what it must be, and what was sent. */

let t: TenantKey;
beforeAll(async () => {
  t = await createTenantWithKey();
});

async function message(path: string, json: unknown, param: string | null): Promise<string> {
  const { scenario, env } = loopback('ops-msg');
  const r = await call('POST', path, { key: t.key, env, json });
  const text = expectError(r, 400, 'invalid_request', { param });
  expect(await originCalls(scenario)).toHaveLength(0);
  return text;
}

const Q = '/image/generation';
const O = '/v1/images/generations';

const CASES: readonly (readonly [string, Record<string, unknown>, string, string])[] = [
    [Q, { positive_prompt: 'a', seed: -1 }, 'seed', "'seed' must be an integer from 0 to 4294967295, got -1"],
    [Q, { positive_prompt: 'a', seed: 4294967296 }, 'seed', "'seed' must be an integer from 0 to 4294967295, got 4294967296"],
    [Q, { positive_prompt: 'a', seed: 1.5 }, 'seed', "'seed' must be an integer from 0 to 4294967295, got 1.5"],
    [Q, { positive_prompt: 'a', seed: '7' }, 'seed', "'seed' must be an integer from 0 to 4294967295, got \"7\""],
    [O, { prompt: 'a', seed: -1 }, 'seed', "'seed' must be an integer from 0 to 4294967295, got -1"],
    [O, { prompt: 'a', n: 5 }, 'n', "'n' must be an integer from 1 to 4, got 5"],
    [O, { prompt: 'a', n: 0 }, 'n', "'n' must be an integer from 1 to 4, got 0"],
    [Q, { positive_prompt: 'a', width: 512.5 }, 'width', "'width' must be an integer, got 512.5"],
    [Q, { positive_prompt: 'a', steps: 'many' }, 'steps', "'steps' must be a number, got \"many\""],
    [Q, { positive_prompt: 'a', cfg: true }, 'cfg', "'cfg' must be a number, got true"],
    [Q, { positive_prompt: 42 }, 'positive_prompt', "'positive_prompt' must be a string, got 42"],
    [Q, { positive_prompt: 'a', output_format: 'gif' }, 'output_format', '\'output_format\' must be one of "png", "jpeg", "webp", got "gif"'],
    [Q, { positive_prompt: 'a', model: '' }, 'model', "'model' must not be empty, got \"\""],
    [O, { prompt: '' }, 'prompt', "'prompt' must not be empty, got \"\""],
    [O, { prompt: 'a', user: 'u'.repeat(300) }, 'user', `'user' must be at most 256 characters long, got "${'u'.repeat(36)}...`],
    [O, { prompt: 'a'.repeat(10_001) }, 'prompt', `'prompt' must be at most 10000 characters, got "${'a'.repeat(36)}...`],
    [O, { prompt: 'a', size: 'big' }, 'size', '\'size\' must be "WIDTHxHEIGHT", e.g. "1024x1024" (or "auto" for the model default), got "big"'],
    [O, {}, 'prompt', "'prompt' is required"],
    [Q, { positive_prompt: 'a', step: 30 }, 'step', "unknown field 'step'"],
];

describe('validator messages', () => {
  for (const [path, json, param, expected] of CASES) {
    it(`${path}: ${expected.slice(0, 90)}`, async () => {
      expect(await message(path, json, param)).toBe(expected);
    });
  }

  it('no message is zod\'s own wording, and none of them charged anything', async () => {
    for (const json of [{ positive_prompt: 'a', seed: -1 }, { positive_prompt: 'a', width: 'x' }, { positive_prompt: 'a', output_format: 1 }]) {
      expect(await message(Q, json, Object.keys(json)[1] ?? null)).not.toMatch(/Too small|Too big|Invalid input|expected \w+ to be/);
    }
    await expectNothingCharged(t);
  });
});
