/**
 * The floor: a Worker that does nothing but forward the request to the origin and stream the
 * answer back. Whatever any Worker costs on this machine (workerd, the loopback hops, the 133 KB
 * body going through twice) it costs too, so the gateway's figures are read as a ratio to it.
 */
export default {
  async fetch(request, env) {
    return fetch(env.ORIGIN_URL, { method: request.method, headers: request.headers, body: request.body });
  },
};
