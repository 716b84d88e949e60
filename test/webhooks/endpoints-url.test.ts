import { describe, expect, it } from 'vitest';
import { webhookUrlProblem } from '../../src/domain/webhook-url';

/* docs/webhooks.md, "Where a webhook may point". */
const ACCEPTED = [
  'https://hooks.example.com/imagegate',
  'https://hooks.example.com:8443/a?b=c',
  'https://8.8.8.8/hook',
  'https://[2001:4860:4860::8888]/hook',
  'https://172.32.0.1/hook',
  'https://HOOKS.Example.COM./x',
];

const REFUSED: [string, RegExp][] = [
  ['http://hooks.example.com/x', /https/],
  ['ftp://hooks.example.com/x', /https/],
  ['not a url', /absolute URL/],
  ['https://user:pass@hooks.example.com/x', /credentials/],
  ['https://user@hooks.example.com/x', /credentials/],
  ['https://localhost/x', /private name/],
  ['https://api.localhost/x', /private name/],
  ['https://printer.local/x', /private name/],
  ['https://metadata.google.internal/x', /private name/],
  ['https://intranet/x', /single-label/],
  ['https://127.0.0.1/x', /loopback/],
  ['https://127.1/x', /loopback/],
  ['https://0x7f000001/x', /loopback/],
  ['https://2130706433/x', /loopback/],
  ['https://0.0.0.0/x', /this network/],
  ['https://10.1.2.3/x', /private/],
  ['https://172.16.0.1/x', /private/],
  ['https://172.31.255.255/x', /private/],
  ['https://192.168.1.1/x', /private/],
  ['https://100.64.0.1/x', /shared/],
  ['https://169.254.169.254/latest/meta-data', /link-local/],
  ['https://224.0.0.1/x', /multicast/],
  ['https://[::1]/x', /loopback/],
  ['https://[::]/x', /unspecified/],
  ['https://[fd00::1]/x', /unique local/],
  ['https://[fe80::1]/x', /link-local/],
  ['https://[ff02::1]/x', /multicast/],
  ['https://[::ffff:127.0.0.1]/x', /loopback/],
  ['https://[::ffff:10.0.0.1]/x', /private/],
  [`https://hooks.example.com/${'a'.repeat(2048)}`, /2048/],
];

describe('the webhook URL rule', () => {
  it.each(ACCEPTED)('accepts %s', (url) => {
    expect(webhookUrlProblem(url, false)).toBeNull();
  });

  it.each(REFUSED)('refuses %s, naming url', (url, message) => {
    const problem = webhookUrlProblem(url, false);
    expect(problem?.param).toBe('url');
    expect(problem?.message).toMatch(message);
  });

  it('accepts http://127.0.0.1 and http://localhost with any port only where WEBHOOK_ALLOW_LOOPBACK=true', () => {
    for (const url of ['http://127.0.0.1:9999/hook', 'http://localhost:3000/x', 'http://127.0.0.1/x', 'http://[::1]:8080/x']) {
      expect(webhookUrlProblem(url, true), url).toBeNull();
      expect(webhookUrlProblem(url, false)?.message, url).toMatch(/WEBHOOK_ALLOW_LOOPBACK|public host/);
    }
  });

  it('the loopback flag opens this machine only, never the private network or http to a public host', () => {
    for (const url of ['http://10.0.0.1:80/x', 'http://192.168.1.1/x', 'http://hooks.example.com/x', 'http://127.0.0.2/x', 'https://169.254.169.254/x']) {
      expect(webhookUrlProblem(url, true)?.param, url).toBe('url');
    }
  });
});
