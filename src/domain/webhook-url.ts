/**
 * Which URLs a webhook may point at (docs/webhooks.md). A tenant admin creates endpoints, so the
 * gateway must not become a way to reach hosts that only the gateway's network can: `https://` to
 * a public host only. `WEBHOOK_ALLOW_LOOPBACK=true` (development) also accepts this machine, so a
 * receiver on 127.0.0.1 can be tried out with `npm run dev`.
 */
import type { FieldProblem } from './failure';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Names that never resolve to a public host (RFC 6761, RFC 6762, RFC 8375, and the common private suffix). */
const PRIVATE_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.lan', '.intranet', '.corp'];

/** Why `text` may not be a webhook URL, or null when it may. */
export function webhookUrlProblem(text: string, allowLoopback: boolean): FieldProblem | null {
  const problem = (message: string): FieldProblem => ({ param: 'url', message });
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return problem(`url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return problem('url must be an absolute URL such as https://hooks.example.com/imagegate');
  }
  if (url.username !== '' || url.password !== '') return problem('url may not carry credentials; authenticate the receiver by the signature');
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (allowLoopback && isLoopbackHost(host) && (url.protocol === 'http:' || url.protocol === 'https:')) return null;
  if (url.protocol !== 'https:') {
    const hint = allowLoopback ? '' : ' (http://127.0.0.1 and http://localhost only where WEBHOOK_ALLOW_LOOPBACK=true)';
    return problem(`url must be https://${hint}`);
  }
  return hostProblem(host) === null ? null : problem(`url must name a public host: ${hostProblem(host)}`);
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/** Why `host` (as URL parsing normalised it: IPv4 dotted, IPv6 in brackets) is not public. */
function hostProblem(host: string): string | null {
  if (host.startsWith('[')) return ipv6Problem(host.slice(1, -1));
  const v4 = ipv4Of(host);
  if (v4 !== null) return ipv4Problem(v4);
  if (host === 'localhost' || PRIVATE_SUFFIXES.some((suffix) => host.endsWith(suffix))) return `'${host}' is a private name`;
  if (!host.includes('.')) return `'${host}' is a single-label name, resolved only inside a network`;
  return null;
}

/** The four octets of a dotted IPv4 address (URL parsing already turned 0x7f.1 and 2130706433 into one). */
function ipv4Of(host: string): number[] | null {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** [first octet, second octet low, second octet high] of each non-public IPv4 range. */
const PRIVATE_V4: [number, number, number, string][] = [
  [0, 0, 255, 'this network (0.0.0.0/8)'],
  [10, 0, 255, 'private (10.0.0.0/8)'],
  [100, 64, 127, 'shared address space (100.64.0.0/10)'],
  [127, 0, 255, 'loopback (127.0.0.0/8)'],
  [169, 254, 254, 'link-local (169.254.0.0/16)'],
  [172, 16, 31, 'private (172.16.0.0/12)'],
  [192, 168, 168, 'private (192.168.0.0/16)'],
  [198, 18, 19, 'benchmarking (198.18.0.0/15)'],
];

function ipv4Problem([a = 0, b = 0, c = 0]: number[]): string | null {
  if (a >= 224) return 'a multicast or reserved address (224.0.0.0/3)';
  if (a === 192 && b === 0 && c === 0) return 'an IETF protocol address (192.0.0.0/24)';
  const range = PRIVATE_V4.find(([first, low, high]) => a === first && b >= low && b <= high);
  return range ? `a ${range[3]} address` : null;
}

/** The eight 16-bit groups of an IPv6 address as URL parsing writes it (compressed, lower case, no zone). */
function ipv6Groups(text: string): number[] | null {
  const [head = '', tail] = text.split('::');
  const words = (s: string) => (s === '' ? [] : s.split(':'));
  let groups = [...words(head), ...(tail === undefined ? [] : words(tail))];
  const last = groups[groups.length - 1] ?? '';
  if (last.includes('.')) {
    const v4 = ipv4Of(last);
    if (v4 === null) return null;
    groups = [...groups.slice(0, -1), ((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16)];
  }
  const missing = 8 - groups.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return null;
  const head8 = words(head).length;
  const full = tail === undefined ? groups : [...groups.slice(0, head8), ...Array<string>(missing).fill('0'), ...groups.slice(head8)];
  const numbers = full.map((g) => parseInt(g, 16));
  return numbers.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff) ? numbers : null;
}

function ipv6Problem(text: string): string | null {
  const g = ipv6Groups(text);
  if (g === null) return 'an IPv6 address that cannot be read';
  const [g0 = 0, , , , , g5 = 0, g6 = 0, g7 = 0] = g;
  const zeroesUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroesUpTo(7) && g7 <= 1) return 'the unspecified or loopback IPv6 address';
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 rules apply to the address inside
  if (zeroesUpTo(5) && g5 === 0xffff) return ipv4Problem([g6 >> 8, g6 & 0xff, g7 >> 8]);
  if ((g0 & 0xfe00) === 0xfc00) return 'a unique local IPv6 address (fc00::/7)';
  if ((g0 & 0xffc0) === 0xfe80) return 'a link-local IPv6 address (fe80::/10)';
  if ((g0 & 0xff00) === 0xff00) return 'a multicast IPv6 address (ff00::/8)';
  return null;
}
