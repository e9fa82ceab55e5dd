// The console's files on the Node edge (edge/routes/console.ts, edge/node/console-assets.ts), over real HTTP with a
// real s3rver behind the blob store: the build's bytes with their types, the Content-Security-Policy (connect-src
// naming exactly the S3 server's origin, where presigned PUTs go), revalidation, the 404s, a server without a build;
// the build itself (no inline code, nothing from another origin, skipped when up to date); and the local stack's
// bucket CORS rule, which lets exactly the console's origin PUT.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEdge, startEdge } from '../../edge/node/server.ts';
import { consoleCsp } from '../../edge/routes/console.ts';
import { CONSOLE_FILES, CONSOLE_SITE_DIR, buildConsole, consoleUpToDate } from '../../scripts/build-console.ts';
import { corsConfiguration } from '../../scripts/lib/s3-process.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from '../helpers/edge.ts';
import { ROOT, cleanEnv, freePort, launch } from '../helpers/processes.ts';
import { type RunningS3rver, s3Config, startS3rver } from '../helpers/s3rver.ts';

let s3: RunningS3rver;
let edge: RunningEdge;
let bare: RunningEdge;
let dataDir: string;

beforeAll(async () => {
  await buildConsole();
  s3 = await startS3rver();
  dataDir = mkdtempSync(join(tmpdir(), 'console-route-'));
  const config = { adminToken: ADMIN_TOKEN, workerToken: WORKER_TOKEN };
  [edge, bare] = await Promise.all([
    startEdge({ dataDir: join(dataDir, 'a'), port: 0, config, s3: s3Config(s3.endpoint, s3.bucket), backgroundIntervalMs: 0 }),
    startEdge({ dataDir: join(dataDir, 'b'), port: 0, config, s3: s3Config(s3.endpoint, s3.bucket), backgroundIntervalMs: 0, consoleDir: join(dataDir, 'not-built') }),
  ]);
}, 60_000);

afterAll(async () => {
  await edge?.close();
  await bare?.close();
  await s3?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const built = (name: string) => readFileSync(join(CONSOLE_SITE_DIR, name));

describe('GET /console on the Node edge', () => {
  it('serves the page and its files as built, with their types, security headers and a CSP naming the S3 origin', async () => {
    const types: Record<string, string> = {
      'index.html': 'text/html; charset=utf-8',
      'app.js': 'text/javascript; charset=utf-8',
      'app.css': 'text/css; charset=utf-8',
      'favicon.svg': 'image/svg+xml',
    };
    for (const [path, file] of [['/console', 'index.html'], ...CONSOLE_FILES.map((f) => [`/console/${f}`, f])] as const) {
      const res = await fetch(edge.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(types[file]);
      expect(Buffer.from(await res.arrayBuffer()).equals(built(file)), path).toBe(true);
      expect(res.headers.get('content-security-policy'), path).toBe(consoleCsp(s3.endpoint));
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-cache');
    }
    const csp = consoleCsp(s3.endpoint);
    expect(csp).toContain(`connect-src 'self' ${s3.endpoint};`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src 'self';/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('answers a repeated load with 304 while the file is unchanged, and HEAD without a body', async () => {
    const first = await fetch(`${edge.url}/console/app.js`);
    const etag = first.headers.get('etag');
    await first.arrayBuffer();
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await fetch(`${edge.url}/console/app.js`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const other = await fetch(`${edge.url}/console/app.js`, { headers: { 'if-none-match': '"something-else"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
    const head = await fetch(`${edge.url}/console`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-security-policy')).toBeTruthy();
  });

  it('redirects /console/ to /console and answers anything else under /console with the API’s 404', async () => {
    const slash = await fetch(`${edge.url}/console/`, { redirect: 'manual' });
    expect(slash.status).toBe(308);
    expect(slash.headers.get('location')).toBe('/console');
    for (const path of ['/console/missing.js', '/console/..%2Fpackage.json', '/console/%2E%2E/stamp.json', '/console/.hidden.js', '/console/a/app.js', '/console/app.js.map', '/console/README.md']) {
      const res = await fetch(edge.url + path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe('not_found');
    }
    const post = await fetch(`${edge.url}/console`, { method: 'POST' });
    expect(post.status).toBe(404);
    await post.arrayBuffer();
  });

  it('says how to build the console when a server has none', async () => {
    const res = await fetch(`${bare.url}/console`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('not_found');
    expect(body.error.message).toMatch(/npm run console:build/);
  });
});

describe('the build', () => {
  it('is a page with no inline script or style that loads only this origin’s files', () => {
    const html = built('index.html').toString('utf8');
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/console/app.js">']);
    expect(html).not.toMatch(/<script[^>]*>[^<]+<\/script>|<style|\sstyle=|\son[a-z]+=/i);
    expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).sort()).toEqual(['/console/app.css', '/console/app.js', '/console/favicon.svg', '/docs']);
    // The CSP allows no eval; the sources never write HTML (Preact's text nodes and attributes escape everything).
    const js = built('app.js').toString('utf8');
    expect(js.match(/\beval\(|new Function\(/)).toBeNull();
    const sources = readdirSync(join(ROOT, 'console/src'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f));
    expect(sources.length).toBeGreaterThan(10);
    for (const f of sources) {
      expect(readFileSync(join(ROOT, 'console/src', f), 'utf8').match(/dangerouslySetInnerHTML|innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|console\.(log|info|debug|warn|error)/), f).toBeNull();
    }
    // No address of another origin that the page would load (the XML namespaces are names, not requests).
    const origins = new Set([...js.matchAll(/https?:\/\/[a-z0-9.-]+/gi)].map((m) => m[0]));
    expect([...origins].filter((o) => !/^http:\/\/www\.w3\.org$/.test(o) && o !== 'https://example.com').sort()).toEqual([]);
  });

  it('is up to date after a build, and not rebuilt then', async () => {
    expect(consoleUpToDate()).toBe(true);
    expect((await buildConsole()).built).toBe(false);
  });
});

describe('the local stack’s bucket CORS rule', () => {
  it('lets exactly the console’s origins PUT to the S3 server (scripts/lib/s3-process.ts with S3_CORS_ORIGINS)', async () => {
    const dir = join(dataDir, 's3-process');
    const port = await freePort();
    const proc = launch(['bin/run-ts.mjs', 'scripts/lib/s3-process.ts'], cleanEnv({ S3_DIR: dir, S3_PORT: String(port), S3_BUCKET: 'cocoop', S3_CORS_ORIGINS: 'http://127.0.0.1:8787,http://localhost:8787' }));
    try {
      await proc.waitFor(/s3rver listening on/, 30_000);
      const preflight = (origin: string) =>
        fetch(`http://127.0.0.1:${port}/cocoop/tenants/x/staging/img`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
        });
      const ok = await preflight('http://localhost:8787');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-methods')).toBe('PUT');
      expect(ok.headers.get('access-control-allow-headers')).toBe('content-type');
      await ok.arrayBuffer();
      for (const origin of ['http://evil.example', 'http://127.0.0.1:9999']) {
        const refused = await preflight(origin);
        expect(refused.status, origin).toBe(403);
        expect(refused.headers.get('access-control-allow-origin'), origin).toBeNull();
        await refused.arrayBuffer();
      }
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });

  it('is one rule: PUT with content-type from the given origins', () => {
    expect(corsConfiguration(['http://127.0.0.1:1', 'http://a&b'])).toBe(
      [
        '<CORSConfiguration>',
        '  <CORSRule>',
        '    <AllowedOrigin>http://127.0.0.1:1</AllowedOrigin>',
        '    <AllowedOrigin>http://a&amp;b</AllowedOrigin>',
        '    <AllowedMethod>PUT</AllowedMethod>',
        '    <AllowedHeader>content-type</AllowedHeader>',
        '    <MaxAgeSeconds>600</MaxAgeSeconds>',
        '  </CORSRule>',
        '</CORSConfiguration>',
      ].join('\n'),
    );
  });
});
