// The app as a whole over real HTTP: system routes (/healthz, /openapi.json, /docs), CORS, body limits,
// rate limiting, the internal-error path, and "no 5xx for bad input".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../edge/app.ts';
import { resolveConfig } from '../../edge/config.ts';
import { MemoryCache } from '../../edge/node/memory-cache.ts';
import type { SqlDatabase } from '../../edge/ports.ts';
import {
  ADMIN_TOKEN,
  type TestEdge,
  WORKER_TOKEN,
  bearer,
  jsonHeaders,
  serveApp,
  startTestEdge,
  unreachableBlobStore,
} from '../helpers/edge.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

const MAX_JSON = 512;

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ maxJsonBytes: MAX_JSON });
});
afterAll(async () => {
  await edge?.close();
});

type OpenApiDoc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown>; requestBody?: unknown }>>;
  components: { schemas: Record<string, { additionalProperties?: unknown; properties?: Record<string, unknown> }>; securitySchemes: Record<string, unknown> };
};

describe('system routes', () => {
  it('GET /healthz needs no key', async () => {
    const res = await edge.fetch('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /openapi.json is OpenAPI 3.1 and describes every route the app serves', async () => {
    const res = await edge.fetch('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBeTruthy();

    // Every handler route of the Hono app (middleware is registered as ALL) is in the document...
    const served = new Set(
      edge.app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, '{$1}')}`),
    );
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
    expect([...served].sort()).toEqual([...documented].sort());
    // ...which includes at least these.
    for (const op of ['post /v1/tenants', 'get /v1/me', 'post /v1/api-keys', 'delete /v1/api-keys/{id}', 'get /healthz', 'get /openapi.json', 'get /docs']) {
      expect(documented.has(op), op).toBe(true);
    }

    // /v1 operations declare their auth and error responses; the JSON body schema is strict.
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        expect(op.security, `${method} ${path}`).toBeTruthy();
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '429']));
      }
    }
    expect(doc.paths['/v1/tenants'].post.security).toEqual([{ AdminToken: [] }]);
    expect(doc.paths['/v1/me'].get.security).toEqual([{ ApiKey: [] }]);
    expect(doc.components.schemas.CreateTenantRequest.additionalProperties).toBe(false);
    expect(Object.keys(doc.components.schemas.Error.properties ?? {})).toEqual(['error']);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['AdminToken', 'ApiKey', 'MetricsToken', 'WorkerToken']);
  });

  it('GET /docs is a self-contained HTML page that renders /openapi.json', async () => {
    const res = await edge.fetch('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    const html = await res.text();
    expect(html).toContain('/openapi.json');
    // No external resources: no absolute URLs, no src/href to other origins.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);

    // Run the page's script against a minimal DOM and the real document: it renders every operation.
    const script = /<script nonce="([^"]+)">([\s\S]*?)<\/script>/.exec(html);
    expect(script).not.toBeNull();
    expect(csp).toContain(`'nonce-${script![1]}'`);
    const dom = miniDom();
    const fetched: string[] = [];
    const fakeFetch = async (url: string) => {
      fetched.push(url);
      return edge.fetch(url);
    };
    const run = new Function('document', 'fetch', `return ${script![2].trim().replace(/;$/, '')}`);
    await run(dom.document, fakeFetch);
    expect(fetched).toEqual(['/openapi.json']);
    const text = dom.text();
    for (const path of ['/v1/tenants', '/v1/me', '/v1/api-keys', '/v1/api-keys/{id}', '/healthz']) expect(text).toContain(path);
    expect(text).toContain('Idempotency-Key'); // a header parameter
    expect(text).toContain('No other fields are accepted'); // the strict request body
    expect(text).toContain('api_key'); // a response field
    expect(text).not.toContain('Could not load');
  });
});

describe('CORS', () => {
  it('answers preflights for /v1 without a key, allowing Authorization from any origin', async () => {
    const res = await edge.fetch('/v1/me', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('error responses carry the CORS headers too (so browsers can read them)', async () => {
    const res = await edge.fetch('/v1/me', { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('Retry-After');
  });
});

describe('body limits', () => {
  it('413 by Content-Length before reading, and a body of exactly the limit passes', async () => {
    const big = JSON.stringify({ name: 'A' + ' '.repeat(MAX_JSON) });
    let res = await edge.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: big });
    expect(res.status).toBe(413);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toContain(String(MAX_JSON));

    const exact = '{"name": "Exact"}'.padEnd(MAX_JSON, ' ');
    expect(new TextEncoder().encode(exact).byteLength).toBe(MAX_JSON);
    res = await edge.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: exact });
    expect(res.status).toBe(201);
  });

  it('413 by the bytes read when there is no Content-Length (chunked)', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(200));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"name": "Streamed"'));
        else if (sent < 5) controller.enqueue(chunk);
        else {
          controller.enqueue(new TextEncoder().encode('}'));
          controller.close();
        }
        sent++;
      },
    });
    const res = await edge.fetch('/v1/tenants', {
      method: 'POST',
      headers: jsonHeaders(ADMIN_TOKEN),
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');

    // The same streamed shape under the limit is accepted.
    const small = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"name": '));
        controller.enqueue(new TextEncoder().encode('"Streamed"}'));
        controller.close();
      },
    });
    const ok = await edge.fetch('/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: small, duplex: 'half' } as RequestInit);
    expect(ok.status).toBe(201);
  });

  it('invalid UTF-8 is 400, not 500', async () => {
    const res = await edge.fetch('/v1/tenants', {
      method: 'POST',
      headers: jsonHeaders(ADMIN_TOKEN),
      body: new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/UTF-8/);
  });
});

describe('rate limit', () => {
  it('429 rate_limited with Retry-After once a key exceeds the window; other keys are unaffected', async () => {
    const limited = await startTestEdge({ rateLimit: { requestsPerWindow: 3, windowMs: 60_000 }, clock: new ManualClock().now }); // held still: one window
    try {
      const t = await limited.createTenant('Busy');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await limited.fetch('/v1/me', { headers: bearer(t.api_key) });
        statuses.push(res.status);
        expect(res.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
      }
      expect(statuses).toEqual([200, 200, 200]);
      const res = await limited.fetch('/v1/me', { headers: bearer(t.api_key) });
      expect(res.status).toBe(429);
      const retry = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retry)).toBe(true);
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      const err = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('rate_limited');
      expect(err.message).toMatch(/Retry after \d+ s/);

      // Another tenant's key has its own window.
      const other = await limited.createTenant('Calm');
      expect((await limited.fetch('/v1/me', { headers: bearer(other.api_key) })).status).toBe(200);
      // Unauthenticated requests are 401 (not counted, not limited).
      expect((await limited.fetch('/v1/me')).status).toBe(401);
      // Counted in memory: no rate_windows rows (test/edge/http/rate-limit.test.ts).
      expect(limited.db.raw.prepare('SELECT COUNT(*) AS n FROM rate_windows').get()).toEqual({ n: 0 });
    } finally {
      await limited.close();
    }
  });

  it('a new window lets the key in again', async () => {
    // The clock starts at a window's first millisecond, so both requests fall in the same one.
    const clock = new ManualClock(Date.UTC(2030, 0, 1, 12));
    const limited = await startTestEdge({ rateLimit: { requestsPerWindow: 1, windowMs: 1000 }, clock: clock.now });
    try {
      const t = await limited.createTenant('Windowed');
      expect((await limited.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
      const second = await limited.fetch('/v1/me', { headers: bearer(t.api_key) });
      expect(second.status).toBe(429);
      clock.advance(999); // the window's last millisecond
      expect((await limited.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(429);
      clock.advance(1); // the next window
      expect((await limited.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('internal errors', () => {
  it('an unexpected exception is 500 internal with a reference, logged, and its detail never sent', async () => {
    const logged: unknown[][] = [];
    const brokenDb: SqlDatabase = {
      prepare() {
        throw new Error('SECRET: disk /var/lib/db is on fire');
      },
      async batch() {
        throw new Error('SECRET');
      },
    };
    const config = resolveConfig({
      adminToken: ADMIN_TOKEN,
      workerToken: WORKER_TOKEN,
      logger: { error: (m, d) => logged.push([m, d]), warn: () => {} },
    });
    const server = await serveApp(createApp({ db: brokenDb, blobs: unreachableBlobStore(), cache: new MemoryCache() }, config));
    try {
      const res = await fetch(`${server.url}/v1/me`, { headers: bearer('ck_live_' + 'a'.repeat(32)) });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain('SECRET');
      expect(text).not.toContain('fire');
      const err = (JSON.parse(text) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('internal');
      const ref = /reference (err_[0-9a-z]+)/.exec(err.message)?.[1];
      expect(ref).toBeTruthy();
      expect(logged).toHaveLength(1);
      expect(String(logged[0][0])).toContain(ref!);
      expect(String((logged[0][1] as Error).message)).toContain('SECRET');
    } finally {
      await server.close();
    }
  });
});

describe('bad input never causes a 5xx', () => {
  it('a batch of malformed requests all get 4xx with the error shape', async () => {
    const t = await edge.createTenant('Fuzz');
    const deep = '['.repeat(200) + ']'.repeat(200);
    const requests: [string, RequestInit][] = [
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: 'null' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '"name"' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '123' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: deep }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: `{"name": "a", "x": ${deep}}` }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '{"name": null}' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '{"name": ["a"]}' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '{"name": {"$gt": ""}}' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '{"__proto__": {"admin": true}, "name": "a"}' }],
      ['/v1/tenants', { method: 'POST', headers: jsonHeaders(ADMIN_TOKEN), body: '{"name": "a", "name": 5}' }],
      ['/v1/tenants', { method: 'POST', headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json; charset=utf-8' }, body: '{' }],
      ['/v1/tenants', { method: 'PUT', headers: jsonHeaders(ADMIN_TOKEN), body: '{"name": "a"}' }],
      ['/v1/tenants', { method: 'GET', headers: bearer(ADMIN_TOKEN) }],
      ['/v1/me', { method: 'POST', headers: jsonHeaders(t.api_key), body: '{"a":1}' }],
      ['/v1/me', { method: 'GET', headers: { authorization: 'Bearer ' + 'x'.repeat(5000) } }],
      ['/v1/me', { method: 'GET', headers: { authorization: 'Bearer ck_live_' + 'é'.repeat(32) } }],
      ['/v1/me', { method: 'GET', headers: { authorization: 'Bearer a b c' } }],
      ['/v1/api-keys', { method: 'POST', headers: jsonHeaders(t.api_key), body: '{not json' }],
      ['/v1/api-keys', { method: 'POST', headers: jsonHeaders(t.api_key, { 'Idempotency-Key': '' }) }],
      ['/v1/api-keys/%00', { method: 'DELETE', headers: bearer(t.api_key) }],
      ['/v1/api-keys/..%2F..%2Ftenants', { method: 'DELETE', headers: bearer(t.api_key) }],
      ['/v1/api-keys/' + 'k'.repeat(3000), { method: 'DELETE', headers: bearer(t.api_key) }],
      ["/v1/api-keys/key_'%20OR%201=1--", { method: 'DELETE', headers: bearer(t.api_key) }],
      ['/v1/api-keys/', { method: 'DELETE', headers: bearer(t.api_key) }],
      ['/v1/me?limit=-1&after=%FF', { headers: bearer(t.api_key) }],
      ['/v1', { headers: bearer(t.api_key) }],
      ['/docs?x=<script>', {}],
    ];
    for (const [path, init] of requests) {
      const res = await edge.fetch(path, init);
      const label = `${init.method ?? 'GET'} ${path.slice(0, 60)}`;
      expect(res.status, label).toBeLessThan(500);
      if (res.status >= 400) {
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(typeof body.error.code, label).toBe('string');
        expect(body.error.message.length, label).toBeGreaterThan(5);
      } else {
        await res.arrayBuffer();
      }
    }
    expect(edge.loggedErrors).toEqual([]);
    // None of it created a tenant named by the attack bodies, and the tenant's key still works.
    expect((await edge.fetch('/v1/me', { headers: bearer(t.api_key) })).status).toBe(200);
  });
});

// ---- a DOM just large enough for the docs script ---------------------------------------------

interface MiniNode {
  tag: string;
  attrs: Record<string, string>;
  children: (MiniNode | string)[];
  append(...kids: (MiniNode | string)[]): void;
  setAttribute(k: string, v: string): void;
  readonly childElementCount: number;
}

function miniDom() {
  const make = (tag: string): MiniNode => {
    const node: MiniNode = {
      tag,
      attrs: {},
      children: [],
      append(...kids) {
        // A real Element.append would turn null/undefined into the text "null"/"undefined".
        for (const k of kids) {
          if (k === null || k === undefined) throw new Error(`append(${String(k)}) into <${tag}>`);
          node.children.push(k);
        }
      },
      setAttribute(k, v) {
        node.attrs[k] = v;
      },
      get childElementCount() {
        return node.children.filter((c) => typeof c !== 'string').length;
      },
    };
    return node;
  };
  const main = make('main');
  const nav = make('nav');
  const document = {
    title: '',
    createElement: make,
    querySelector: (sel: string) => (sel === 'main' ? main : sel === 'nav' ? nav : null),
  };
  const textOf = (n: MiniNode | string): string => (typeof n === 'string' ? n : n.children.map(textOf).join(' '));
  return { document, text: () => textOf(main) + '\n' + textOf(nav) };
}
