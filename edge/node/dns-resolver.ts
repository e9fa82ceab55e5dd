// Node's DNS for the webhook URL guard's delivery-time check (edge/webhooks/url-guard.ts resolveAndCheck), and a
// fetch for webhook deliveries that connects only to the addresses it has just checked (no DNS-rebinding window).
import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Readable } from 'node:stream';
import { type Resolver, type UrlGuardOptions, allowed, classifyAddress } from '../webhooks/url-guard.ts';

/** Every address the system resolver gives for `host` (IPv4 and IPv6). */
export const nodeResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls connect: resolves with `resolver`, refuses the connection unless every address is allowed
 * by the URL guard, and hands exactly those addresses to the socket, so what was checked is what is connected to.
 */
export function guardedLookup(resolver: Resolver, opts: UrlGuardOptions) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolver(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw new Error(`${hostname} does not resolve to any address`);
        for (const a of addresses) {
          const cls = classifyAddress(a);
          if (cls === null || !allowed(cls, opts)) {
            throw Object.assign(new Error(`refused: ${hostname} resolves to ${a} (${cls ?? 'unreadable'}); webhooks go only to public addresses`), {
              code: 'EADDRREFUSED',
            });
          }
        }
        return addresses.map((address) => ({ address: address.replace(/%.*$/, ''), family: address.includes(':') ? 6 : 4 }));
      })
      .then(
        (list) => {
          if (options.all) callback(null, list);
          else callback(null, list[0].address, list[0].family);
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), '', 0),
      );
  };
}

/**
 * `fetch` for webhook deliveries on Node whose connections go only to addresses that passed the guard at connect
 * time (the dispatcher's earlier check can be raced by a rebinding DNS server; this one cannot: the checked address
 * is the connected one). IP-literal hosts need no lookup and are checked by the dispatcher's checkWebhookUrl.
 * Redirects are never followed (the 3xx is returned, as with `redirect: 'manual'`). Pass it as the dispatcher's
 * fetchImpl (startEdge's `fetchImpl`).
 */
export function guardedFetch(resolver: Resolver, opts: UrlGuardOptions): typeof fetch {
  const lookupFn = guardedLookup(resolver, opts);
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const outHeaders: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      outHeaders[k] = v;
    });
    const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : null;
    if (!send) throw new TypeError(`guardedFetch: unsupported protocol ${url.protocol}`);
    return await new Promise<Response>((ok, fail) => {
      const r = send(
        url,
        { method: req.method, headers: outHeaders, lookup: lookupFn as never, signal: init?.signal ?? undefined, agent: false },
        (res) => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 502;
          if ([204, 205, 304].includes(status) || status < 200) {
            res.resume();
            ok(new Response(null, { status: status < 200 ? 502 : status, headers }));
          } else {
            ok(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers }));
          }
        },
      );
      // As fetch: an aborted request rejects with the signal's reason (e.g. AbortSignal.timeout's TimeoutError).
      r.on('error', (err: Error) => fail(init?.signal?.aborted ? (init.signal.reason as Error) : new TypeError('fetch failed', { cause: err })));
      r.end(body);
    });
  }) as typeof fetch;
}
