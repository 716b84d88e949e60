/**
 * One bounded load run with autocannon: at most `maxRequests` requests AND at most `seconds`
 * seconds (autocannon's `amount` would ignore the duration, so the count is `maxOverallRequests`,
 * which keeps it), plus a hard stop a little later in case anything hangs.
 */
import autocannon from 'autocannon';

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

/**
 * @param {object} o
 * @param {string} o.url
 * @param {Record<string,string>} [o.headers]
 * @param {string} [o.body]            a fixed body
 * @param {() => string} [o.nextBody]  a body per request (e.g. a fresh seed)
 * @returns {Promise<{rps:number, p50:number|null, p99:number|null, ok:number, non2xx:number, errors:number, timeouts:number, seconds:number, statuses:Record<string,number>}>}
 */
export function load({ url, method = 'POST', headers = {}, body, nextBody, connections, seconds, maxRequests, timeoutS = 10 }) {
  const latencies = []; // ms, 2xx only; precise (autocannon's own histogram rounds to whole ms)
  return new Promise((resolve, reject) => {
    const opts = {
      url,
      method,
      headers: { 'content-type': 'application/json', ...headers },
      connections: Math.max(1, Math.min(connections, maxRequests)),
      duration: seconds,
      maxOverallRequests: maxRequests,
      timeout: timeoutS,
      ...(body !== undefined ? { body } : {}),
      ...(nextBody ? { requests: [{ method, setupRequest: (req) => ({ ...req, body: nextBody() }) }] } : {}),
    };
    const started = process.hrtime.bigint();
    const instance = autocannon(opts, (err, res) => {
      clearTimeout(guard);
      if (err) return reject(err);
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      latencies.sort((a, b) => a - b);
      const statuses = Object.fromEntries(Object.entries(res.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
      resolve({
        rps: Math.round((res['2xx'] / elapsed) * 10) / 10,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        ok: res['2xx'],
        non2xx: res.non2xx,
        errors: res.errors,
        timeouts: res.timeouts,
        seconds: Math.round(elapsed * 100) / 100,
        statuses,
      });
    });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
    const guard = setTimeout(() => instance.stop(), (seconds + timeoutS + 5) * 1000);
  });
}
