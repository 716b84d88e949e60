import { describe, expect, it } from 'vitest';
import { configProblems, DEFAULT_ORIGIN_DEADLINE_MS, originDeadlineMs, originsFor, parseOrigins, type OriginConfig } from '../../src/origins/config';

const q = { name: 'q', kind: 'qubrid', url: 'https://q.example/image/generation' };

describe('parseOrigins', () => {
  it('fills in the defaults of docs/origins.md', () => {
    const parsed = parseOrigins(JSON.stringify([q, { name: 'dev', kind: 'local' }]));
    expect(parsed).toEqual({
      ok: true,
      origins: [
        { ...q, models: ['*'], timeout_ms: 120_000, breaker_failures: 5, breaker_cooldown_ms: 30_000, max_image_bytes: 25 * 1024 * 1024, verify_dimensions: true },
        { name: 'dev', kind: 'local', models: ['*'], timeout_ms: 120_000, breaker_failures: 5, breaker_cooldown_ms: 30_000, max_image_bytes: 25 * 1024 * 1024, verify_dimensions: true },
      ],
    });
  });

  it('takes verify_dimensions: false for a server that resizes, and only a boolean', () => {
    const parsed = parseOrigins(JSON.stringify([{ ...q, verify_dimensions: false }]));
    expect(parsed.ok && parsed.origins[0]?.verify_dimensions).toBe(false);
    expect(parseOrigins(JSON.stringify([{ ...q, verify_dimensions: 'no' }]))).toMatchObject({ ok: false, message: expect.stringMatching(/^ORIGINS\[0\]\.verify_dimensions: /) });
  });

  it('accepts every kind', () => {
    for (const kind of ['qubrid', 'openai', 'a1111', 'cog']) {
      expect(parseOrigins(JSON.stringify([{ name: kind, kind, url: 'http://gpu.internal:7860' }])).ok, kind).toBe(true);
    }
  });

  const bad: [string, string | undefined, RegExp][] = [
    ['unset', undefined, /^ORIGINS is not set$/],
    ['empty text', '', /^ORIGINS is not set$/],
    ['not JSON', '[{"name":', /^ORIGINS is not valid JSON$/],
    ['not an array', JSON.stringify(q), /^ORIGINS: /],
    ['an empty list', '[]', /^ORIGINS: /],
    ['no url for an HTTP kind', JSON.stringify([{ name: 'a', kind: 'a1111' }]), /^ORIGINS\[0\]\.url: url is required/],
    ['a url that is not http(s)', JSON.stringify([{ ...q, url: 'ftp://q.example/' }]), /^ORIGINS\[0\]\.url: /],
    ['an unknown kind', JSON.stringify([{ ...q, kind: 'comfy' }]), /^ORIGINS\[0\]\.kind: /],
    ['an unknown field', JSON.stringify([{ ...q, api_key: 'x' }]), /^ORIGINS\[0\]: .*api_key/],
    ['a bad name', JSON.stringify([{ ...q, name: 'has space' }]), /^ORIGINS\[0\]\.name: /],
    ['duplicate names', JSON.stringify([q, q]), /origin names must be unique/],
    ['a secret value where its name belongs', JSON.stringify([{ ...q, api_key_secret: 'sk-live-abc123' }]), /^ORIGINS\[0\]\.api_key_secret: an environment variable name$/],
    ['a zero timeout', JSON.stringify([{ ...q, timeout_ms: 0 }]), /^ORIGINS\[0\]\.timeout_ms: /],
    ['an empty models list', JSON.stringify([{ ...q, models: [] }]), /^ORIGINS\[0\]\.models: /],
    ['a fractional breaker_failures', JSON.stringify([{ ...q, breaker_failures: 1.5 }]), /^ORIGINS\[0\]\.breaker_failures: /],
  ];
  for (const [label, text, message] of bad) {
    it(`rejects ${label} with a clear message that repeats no value`, () => {
      const parsed = parseOrigins(text);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.message).toMatch(message);
      expect(parsed.message).not.toContain('sk-live');
    });
  }
});

describe('originsFor', () => {
  const list = [
    { name: 'a', models: ['m/one'] },
    { name: 'b', models: ['*'] },
    { name: 'c', models: ['m/two', 'm/one'] },
  ] as OriginConfig[];
  it('keeps the configured order and treats "*" as any model', () => {
    expect(originsFor(list, 'm/one').map((o) => o.name)).toEqual(['a', 'b', 'c']);
    expect(originsFor(list, 'm/two').map((o) => o.name)).toEqual(['b', 'c']);
    expect(originsFor(list, 'm/three').map((o) => o.name)).toEqual(['b']);
    expect(originsFor(list.filter((o) => o.name !== 'b'), 'm/three')).toEqual([]);
  });
});

describe('originDeadlineMs', () => {
  it('reads ORIGIN_DEADLINE_MS, and falls back to the default for anything but 1 ms .. 1 h', () => {
    expect(originDeadlineMs({})).toBe(DEFAULT_ORIGIN_DEADLINE_MS);
    expect(originDeadlineMs({ ORIGIN_DEADLINE_MS: '2500' })).toBe(2_500);
    expect(originDeadlineMs({ ORIGIN_DEADLINE_MS: 3_600_000 })).toBe(3_600_000);
    for (const v of ['0', '-5', '1.5', 'soon', '', '3600001', 0, Number.NaN]) {
      expect(originDeadlineMs({ ORIGIN_DEADLINE_MS: v }), String(v)).toBe(DEFAULT_ORIGIN_DEADLINE_MS);
    }
  });
});

describe('configProblems', () => {
  const keyed = { ...q, api_key_secret: 'QUBRID_API_KEY' };
  const origins = (...list: object[]) => JSON.stringify(list);

  it('finds nothing wrong with a configuration that can serve', () => {
    expect(configProblems({ ORIGINS: origins({ name: 'dev', kind: 'local' }) })).toEqual([]);
    expect(configProblems({ ORIGINS: origins(keyed), QUBRID_API_KEY: 'qk-secret-value' })).toEqual([]);
  });

  it('reports ORIGINS unset or not JSON', () => {
    expect(configProblems({})).toEqual(['ORIGINS is not set']);
    expect(configProblems({ ORIGINS: '' })).toEqual(['ORIGINS is not set']);
    expect(configProblems({ ORIGINS: '[{"name": "q", kind: qubrid}]' })).toEqual(['ORIGINS is not valid JSON']);
  });

  it('reports every invalid entry, naming the field', () => {
    const problems = configProblems({ ORIGINS: origins({ name: 'a', kind: 'comfy', url: 'http://x.example' }, { name: 'b', kind: 'a1111' }, { ...q, url: 'not a url' }) });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^ORIGINS\[0\]\.kind: /);
    expect(problems[1]).toMatch(/^ORIGINS\[1\]\.url: url is required/);
    expect(problems[2]).toMatch(/^ORIGINS\[2\]\.url: /);
  });

  it('reports an api_key_secret naming a variable that is unset or empty, by name and never by value', () => {
    const text = origins(keyed, { name: 'gpu', kind: 'a1111', url: 'http://gpu.internal:7860', api_key_secret: 'GPU_TOKEN' });
    const env = { ORIGINS: text, QUBRID_API_KEY: '', GPU_TOKEN: 'gpu-secret-value' };
    expect(configProblems(env)).toEqual(["ORIGINS[0].api_key_secret: QUBRID_API_KEY is not set (origin 'q')"]);
    expect(configProblems({ ORIGINS: text })).toEqual([
      "ORIGINS[0].api_key_secret: QUBRID_API_KEY is not set (origin 'q')",
      "ORIGINS[1].api_key_secret: GPU_TOKEN is not set (origin 'gpu')",
    ]);
    expect(configProblems({ ...env, QUBRID_API_KEY: 'qk-secret-value' })).toEqual([]);
  });

  it('never repeats a value from the configuration', () => {
    const leaky = origins({ ...q, api_key_secret: 'sk-live-abc123' }, { ...q, name: 'q2', url: 'https://user:sk-live-pw@' });
    const problems = configProblems({ ORIGINS: leaky });
    expect(problems).toHaveLength(2);
    for (const problem of problems) expect(problem).not.toContain('sk-live');
  });
});
