import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, genBody, unique } from '../helpers/api';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { expectAccepted, expectRefused } from './support';

/**
 * Every limit of docs/generation.md at its edges, on both sides. Refusals go through a tenant that must
 * never be charged and a loopback origin that must never be called; accepted edges go through
 * another tenant, and the origin must be sent exactly the value asked for.
 */
let refusing: TenantKey;
let accepting: TenantKey;
beforeAll(async () => {
  refusing = await createTenantWithKey();
  accepting = await createTenantWithKey();
});

const body = (extra: Record<string, unknown>) => genBody(unique('validation'), extra);
const without = (b: Record<string, unknown>, ...fields: string[]) => Object.fromEntries(Object.entries(b).filter(([k]) => !fields.includes(k)));

describe('numeric limits', () => {
  const cases: { field: string; ok: unknown[]; bad: unknown[] }[] = [
    { field: 'width', ok: [256, 2048, 512, 1040], bad: [255, 2049, 0, -256, 240, 2064, 264, 1000, 1032, 4096] },
    { field: 'height', ok: [256, 2048, 768], bad: [255, 2049, 0, 248, 2064, 520] },
    { field: 'steps', ok: [1, 100, 30, 31], bad: [0, 101, -1, 1000] },
    { field: 'cfg', ok: [0, 20, 7.5, 0.1, 19.9, 7], bad: [-0.1, 20.1, -1, 20.000001, 100] },
    { field: 'seed', ok: [0, 4294967295, 1, 42], bad: [-1, 4294967296, 1e12, -4294967295] },
  ];
  for (const { field, ok, bad } of cases) {
    for (const value of bad) {
      it(`${field}: ${value} → 400 param ${field}`, async () => {
        await expectRefused(refusing, body({ [field]: value }), 400, 'invalid_request', field);
      });
    }
    it(`${field}: ${ok.join(', ')} accepted and sent to the origin as asked`, async () => {
      for (const value of ok) {
        const sent = await expectAccepted(accepting, body({ [field]: value }));
        expect(sent[field]).toBe(value);
      }
    });
  }

  it('width and height together at their largest', async () => {
    const sent = await expectAccepted(accepting, body({ width: 2048, height: 2048, steps: 100, cfg: 20, seed: 4294967295 }));
    expect(sent).toMatchObject({ width: 2048, height: 2048, steps: 100, cfg: 20, seed: 4294967295 });
  });

  it('defaults: 1024×1024, 30 steps, cfg 7.5, png, the default model', async () => {
    const sent = await expectAccepted(accepting, { positive_prompt: unique('defaults'), seed: 3 });
    expect(sent).toMatchObject({ model: DEFAULT_MODEL, width: 1024, height: 1024, steps: 30, cfg: 7.5, seed: 3, output_format: 'png' });
  });
});

describe('prompts', () => {
  it('positive_prompt: empty → 400, missing → 400', async () => {
    await expectRefused(refusing, body({ positive_prompt: '' }), 400, 'invalid_request', 'positive_prompt');
    await expectRefused(refusing, without(body({}), 'positive_prompt'), 400, 'invalid_request', 'positive_prompt');
    await expectRefused(refusing, {}, 400, 'invalid_request', 'positive_prompt');
  });

  it('positive_prompt: 1 and 10,000 characters accepted; 10,001 → 400', async () => {
    expect((await expectAccepted(accepting, body({ positive_prompt: 'a' }))).positive_prompt).toBe('a');
    const long = unique('long').padEnd(10_000, 'x');
    expect((await expectAccepted(accepting, body({ positive_prompt: long }))).positive_prompt).toBe(long);
    await expectRefused(refusing, body({ positive_prompt: long + 'x' }), 400, 'invalid_request', 'positive_prompt');
  });

  it('characters, not UTF-16 units: 10,000 emoji accepted, 10,001 refused', async () => {
    const tag = unique('emoji').slice(-10);
    const tenThousand = tag + '\u{1F680}'.repeat(9_990);
    expect([...tenThousand].length).toBe(10_000);
    expect(tenThousand.length).toBe(19_990); // UTF-16 units: over the limit if counted that way
    expect((await expectAccepted(accepting, body({ positive_prompt: tenThousand }))).positive_prompt).toBe(tenThousand);
    await expectRefused(refusing, body({ positive_prompt: `${tenThousand}\u{1F680}` }), 400, 'invalid_request', 'positive_prompt');
    const negative = '\u{1F680}'.repeat(10_000);
    await expectAccepted(accepting, body({ negative_prompt: negative }));
    await expectRefused(refusing, body({ negative_prompt: `${negative}x` }), 400, 'invalid_request', 'negative_prompt');
  });

  it('the prompt alias works; both prompt and positive_prompt → 400', async () => {
    const text = unique('alias');
    expect((await expectAccepted(accepting, { ...without(body({}), 'positive_prompt'), prompt: text })).positive_prompt).toBe(text);
    const both = { ...body({}), prompt: 'other' };
    const r = await expectRefused(refusing, both, 400, 'invalid_request', undefined);
    expect(['prompt', 'positive_prompt']).toContain(r.json().error.param);
    await expectRefused(refusing, { ...without(body({}), 'positive_prompt'), prompt: '' }, 400, 'invalid_request', 'prompt');
    await expectRefused(refusing, { ...without(body({}), 'positive_prompt'), prompt: 'x'.repeat(10_001) }, 400, 'invalid_request', 'prompt');
  });

  it('negative_prompt: empty and 10,000 accepted; 10,001 → 400', async () => {
    await expectAccepted(accepting, body({ negative_prompt: '' }));
    const sent = await expectAccepted(accepting, body({ negative_prompt: 'n'.repeat(10_000) }));
    expect(sent.negative_prompt).toBe('n'.repeat(10_000));
    await expectRefused(refusing, body({ negative_prompt: 'n'.repeat(10_001) }), 400, 'invalid_request', 'negative_prompt');
  });
});

describe('other fields', () => {
  it('output_format: png, jpeg, webp accepted; anything else → 400', async () => {
    for (const f of ['png', 'jpeg', 'webp']) expect((await expectAccepted(accepting, body({ output_format: f }))).output_format).toBe(f);
    for (const f of ['gif', 'PNG', 'jpg', '', 'png ', null, 1, ['png']]) {
      await expectRefused(refusing, body({ output_format: f }), 400, 'invalid_request', 'output_format');
    }
  });

  it('an unknown model → 400 param model', async () => {
    await expectRefused(refusing, body({ model: 'nobody/no-such-model' }), 400, 'invalid_request', 'model');
    await expectRefused(refusing, body({ model: '' }), 400, 'invalid_request', 'model');
    await expectRefused(refusing, body({ model: 'x'.repeat(5000) }), 400, 'invalid_request', 'model');
    expect((await expectAccepted(accepting, body({ model: DEFAULT_MODEL }))).model).toBe(DEFAULT_MODEL);
  });

  it('wrong types → 400 naming the field', async () => {
    const cases: [string, unknown][] = [
      ['width', '512'],
      ['width', 512.5],
      ['width', null],
      ['width', true],
      ['width', [512]],
      ['width', { value: 512 }],
      ['height', '512'],
      ['height', 512.5],
      ['steps', '30'],
      ['steps', 30.5],
      ['steps', 1e400], // JSON.parse gives Infinity
      ['cfg', '7.5'],
      ['cfg', null],
      ['cfg', false],
      ['seed', '42'],
      ['seed', 42.5],
      ['seed', null],
      ['positive_prompt', 123],
      ['positive_prompt', null],
      ['positive_prompt', ['a', 'b']],
      ['negative_prompt', 5],
      ['negative_prompt', null],
      ['model', 5],
      ['model', null],
      ['prompt', 7],
    ];
    for (const [field, value] of cases) {
      await expectRefused(refusing, body({ [field]: value }), 400, 'invalid_request', field);
    }
  });

  it('a JSON number with a zero fraction is an integer (512.0 is 512)', async () => {
    // JSON has one number type: 512.0 parses to the integer 512, which is what the client meant.
    const sent = await expectAccepted(accepting, JSON.parse(JSON.stringify(body({ width: 512 })).replace('"width":512', '"width":512.0')));
    expect(sent.width).toBe(512);
  });

  it('unknown fields → 400 naming them, so a misspelling never falls back to a default', async () => {
    for (const field of ['step', 'num_inference_steps', 'guidance_scale', 'Width', 'size', 'n', '', '__proto__', 'constructor']) {
      await expectRefused(refusing, body({ [field]: 20 }), 400, 'invalid_request', field);
    }
    // __proto__ as a JSON key (JSON.parse makes it an own property, unlike an object literal)
    const raw = JSON.parse(`{"positive_prompt":"p","__proto__":{"x":1}}`);
    await expectRefused(refusing, raw, 400, 'invalid_request', '__proto__');
  });
});
