import { beforeAll, describe, expect, it } from 'vitest';
import { checkImageSignature, signImagePath } from '../../src/domain/signed-links';

const SECRET = 'test-image-url-secret';
const ID = 'img_0123456789abcdef';
const EXP = 1_800_000_000;

let link: { path: string; exp: string; sig: string };

/** The link as a browser would send it back: the id from the path, exp and sig from the query. */
function parts(path: string): { id: string; exp: string; sig: string } {
  const url = new URL(path, 'https://gateway.test');
  return {
    id: decodeURIComponent(url.pathname.slice('/v1/images/'.length)),
    exp: url.searchParams.get('exp') ?? '',
    sig: url.searchParams.get('sig') ?? '',
  };
}

beforeAll(async () => {
  const path = await signImagePath(SECRET, ID, EXP);
  const { exp, sig } = parts(path);
  link = { path, exp, sig };
});

/** The signature with one character changed to another of the base64url alphabet. */
const tamper = (sig: string, at: number) => sig.slice(0, at) + (sig[at] === 'A' ? 'B' : 'A') + sig.slice(at + 1);

describe('signImagePath', () => {
  it('gives /v1/images/{id}?exp=…&sig=… with a 43-character base64url signature', () => {
    expect(link.path).toMatch(/^\/v1\/images\/img_0123456789abcdef\?exp=1800000000&sig=[A-Za-z0-9_-]{43}$/);
  });

  it('is deterministic, and differs by secret, id and expiry', async () => {
    expect(await signImagePath(SECRET, ID, EXP)).toBe(link.path);
    const others = await Promise.all([
      signImagePath('another-secret', ID, EXP),
      signImagePath(SECRET, 'img_0123456789abcdeg', EXP),
      signImagePath(SECRET, ID, EXP + 1),
    ]);
    for (const other of others) expect(parts(other).sig).not.toBe(link.sig);
  });

  it('is the HMAC-SHA256 of "imagegate-image:{id}:{exp}", as documented', async () => {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    const sig = Uint8Array.from(atob(link.sig.replace(/-/g, '+').replace(/_/g, '/') + '='), (c) => c.charCodeAt(0));
    const text = new TextEncoder().encode(`imagegate-image:${ID}:${EXP}`);
    expect(await crypto.subtle.verify('HMAC', key, sig, text)).toBe(true);
  });

  it('escapes an id that is not URL-safe, and the escaped link still checks', async () => {
    const odd = 'img_a/b?c';
    const path = await signImagePath(SECRET, odd, EXP);
    expect(path.startsWith('/v1/images/img_a%2Fb%3Fc?exp=')).toBe(true);
    const p = parts(path);
    expect(await checkImageSignature(SECRET, p.id, p.exp, p.sig, EXP - 1)).toEqual({ ok: true });
  });

  it('refuses an expiry that is not whole unix seconds', async () => {
    for (const bad of [1.5, -1, Number.NaN, Number.MAX_SAFE_INTEGER + 2, 1e13]) {
      await expect(signImagePath(SECRET, ID, bad)).rejects.toThrow(RangeError);
    }
  });

  it('refuses an empty secret rather than signing with it', async () => {
    await expect(signImagePath('', ID, EXP)).rejects.toThrow(/secret is empty/);
  });
});

describe('checkImageSignature', () => {
  const cases: [string, () => [string, string, string | undefined, string | undefined, number], string | true][] = [
    ['a fresh link', () => [SECRET, ID, link.exp, link.sig, EXP - 3600], true],
    ['one second before exp', () => [SECRET, ID, link.exp, link.sig, EXP - 1], true],
    ['at exp (the expiry instant is already too late)', () => [SECRET, ID, link.exp, link.sig, EXP], 'expired'],
    ['one second after exp', () => [SECRET, ID, link.exp, link.sig, EXP + 1], 'expired'],
    ['another image id', () => [SECRET, 'img_0123456789abcdeg', link.exp, link.sig, EXP - 1], 'bad_signature'],
    ['a later exp (a link stretched by hand)', () => [SECRET, ID, String(EXP + 86_400), link.sig, EXP - 1], 'bad_signature'],
    ['a later exp, checked after the real one has passed', () => [SECRET, ID, String(EXP + 86_400), link.sig, EXP + 1], 'bad_signature'],
    ['exp with a leading zero', () => [SECRET, ID, `0${link.exp}`, link.sig, EXP - 1], 'bad_signature'],
    ['a signature with its first character changed', () => [SECRET, ID, link.exp, tamper(link.sig, 0), EXP - 1], 'bad_signature'],
    ['a signature with its last character changed', () => [SECRET, ID, link.exp, tamper(link.sig, 42), EXP - 1], 'bad_signature'],
    ['another secret', () => ['another-secret', ID, link.exp, link.sig, EXP - 1], 'bad_signature'],
    ['no exp', () => [SECRET, ID, undefined, link.sig, EXP - 1], 'malformed'],
    ['no sig', () => [SECRET, ID, link.exp, undefined, EXP - 1], 'malformed'],
    ['an empty sig', () => [SECRET, ID, link.exp, '', EXP - 1], 'malformed'],
    ['exp that is not a number', () => [SECRET, ID, 'tomorrow', link.sig, EXP - 1], 'malformed'],
    ['a negative exp', () => [SECRET, ID, '-1', link.sig, EXP - 1], 'malformed'],
    ['a fractional exp', () => [SECRET, ID, `${EXP}.5`, link.sig, EXP - 1], 'malformed'],
    ['a sig one character short', () => [SECRET, ID, link.exp, link.sig.slice(1), EXP - 1], 'malformed'],
    ['a sig in padded standard base64', () => [SECRET, ID, link.exp, `${link.sig.replace(/-/g, '+').replace(/_/g, '/')}=`, EXP - 1], 'malformed'],
    ['a sig with a character outside base64url', () => [SECRET, ID, link.exp, `${link.sig.slice(0, 42)}.`, EXP - 1], 'malformed'],
    ['an empty id', () => [SECRET, '', link.exp, link.sig, EXP - 1], 'malformed'],
  ];
  for (const [name, args, expected] of cases) {
    it(`${name} → ${expected === true ? 'ok' : expected}`, async () => {
      const result = await checkImageSignature(...args());
      expect(result).toEqual(expected === true ? { ok: true } : { ok: false, reason: expected });
    });
  }

  it('a link signed under one secret checks under that secret alone, with many secrets in use', async () => {
    const secrets = Array.from({ length: 5 }, (_, i) => `secret-${i}`);
    const paths = await Promise.all(secrets.map((s) => signImagePath(s, ID, EXP)));
    for (const [i, path] of paths.entries()) {
      const { exp, sig } = parts(path);
      const results = await Promise.all(secrets.map((s) => checkImageSignature(s, ID, exp, sig, EXP - 1)));
      expect(results.map((r) => r.ok)).toEqual(secrets.map((_, j) => j === i));
    }
  });
});
