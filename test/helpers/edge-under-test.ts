// One edge for a suite that runs against both runtimes (the hostile-input corpus, the tenant isolation matrix): the
// same HTTP surface, tokens, S3 server and read-only view of the database, started either on Node (edge/node/server.ts:
// SQLite, S3BlobStore) or as the Workers build inside workerd (`wrangler dev` local mode: local D1, KV, Queues, S3
// through aws4fetch; test/helpers/wrangler-dev.ts). What differs is kept here:
//
// - The database. Node: the edge's own SQLite handle. workerd: local D1 is a SQLite file under the state dir,
//   `<stateDir>/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite` (WAL mode, next to miniflare's metadata.sqlite); it is
//   opened read-only with better-sqlite3, which reads the WAL through the shared-memory index like any other
//   connection, so a write D1 acknowledged (the response has arrived) is visible to the next query.
// - Errors the edge logs. Node: config.logger.error, called in the request. workerd: console.error, which reaches
//   wrangler's output as `✘ [ERROR] …` through workerd's stdout, a different channel from the HTTP response, so
//   "nothing logged yet" cannot be read off the log right after a response. loggedErrors() therefore first sends a
//   barrier: a request that itself logs one known error line through the same console (text embeddings while
//   INFERENCE_URL is unset: `[edge] inference embeddings/text failed INFERENCE_URL is not configured`, answered 503).
//   The isolate writes its console lines in order, so once the n-th barrier line is in the log, every line logged
//   before that request is too; the barrier lines are then left out. (A request that reached the same line itself
//   would be answered 503, which the suites refuse anyway.) Barrier requests use a tenant of their own, made at start.
// - wrangler dev's proxy. Requests reach the worker through wrangler's ProxyWorker, which keeps a connection to the
//   worker; when the worker stopped reading a body half-way (a refused chunked upload, whose stream the edge
//   cancels), that connection is lost and the proxy answers the next POST itself: 503 "Your worker restarted
//   mid-request. Please try sending the request again" (a GET waits for a reload that never comes). A deployed Worker
//   has no such hop. The barrier sends itself again after that answer and counts it (devProxyRetries); suites allow
//   it only after the cases that say why. wrangler dev also reads any body the worker left unread before answering
//   (its dev-only ensure-req-body-drained middleware): a refusal by Content-Length is answered once the body is in.
// - Limits: Node gets them in its config; workerd through .dev.vars (MAX_JSON_BYTES) and the rate-limiting bindings'
//   limits in wrangler.toml (edited here).
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEdge } from '../../edge/node/server.ts';
import { S3BlobStore } from '../../shared/storage/s3-blob-store.ts';
import { ADMIN_TOKEN, WORKER_TOKEN } from './edge.ts';
import { type RunningS3rver, s3Config } from './s3rver.ts';
import { waitUntil } from './wait-until.ts';
import { edgeVars, startWranglerDev } from './wrangler-dev.ts';

export type Runtime = 'node' | 'workerd';

export interface EdgeUnderTestOptions {
  s3: RunningS3rver;
  /** MAX_JSON_BYTES; default the edge's (1 MiB). */
  maxJsonBytes?: number;
  /** LOCAL_MODE (loopback webhook URLs allowed); default false. */
  localMode?: boolean;
}

export interface EdgeUnderTest {
  runtime: Runtime;
  /** http://127.0.0.1:<port>, no trailing slash. */
  base: string;
  port: number;
  /** Both runtimes take the same tokens (test/helpers/edge.ts). */
  adminToken: string;
  workerToken: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Read-only SQL on the edge's database. */
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[];
  /** `SELECT COUNT(*) AS n …` → n. */
  count(sql: string, ...params: unknown[]): number;
  /** The schema's tables, sorted (not SQLite's, D1's or the migrations' own bookkeeping). */
  tables(): string[];
  /** The bucket as the test sees it (its own S3 client on the same s3rver). */
  blobs: S3BlobStore;
  bucketKeys(): Promise<string[]>;
  /** Every error the edge has logged since it started, oldest first (one string each). */
  loggedErrors(): Promise<string[]>;
  /** Barrier requests sent again because wrangler dev's proxy had lost its connection to the worker (0 on Node). */
  devProxyRetries(): number;
  close(): Promise<void>;
}

/** Requests per key and window: far above what a suite sends, so no answer is a 429. */
const REQUESTS_PER_WINDOW = 100_000;

const BOOKKEEPING = (name: string) => name.startsWith('sqlite_') || name.startsWith('_cf_') || /migrations/i.test(name);

function sqlView(db: Database.Database): Pick<EdgeUnderTest, 'all' | 'count' | 'tables'> {
  return {
    all: <T>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as T[],
    count: (sql, ...params) => (db.prepare(sql).get(...params) as { n: number }).n,
    tables: () =>
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[])
        .map((r) => r.name)
        .filter((n) => !BOOKKEEPING(n)),
  };
}

function bucketOf(s3: RunningS3rver): Pick<EdgeUnderTest, 'blobs' | 'bucketKeys'> {
  const blobs = new S3BlobStore(s3Config(s3.endpoint, s3.bucket));
  return {
    blobs,
    async bucketKeys() {
      const out = await blobs.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      if (out.IsTruncated) throw new Error('bucket listing truncated: more than 1000 objects');
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
  };
}

export function startEdgeUnderTest(runtime: Runtime, opts: EdgeUnderTestOptions): Promise<EdgeUnderTest> {
  return runtime === 'node' ? startNode(opts) : startWorkerd(opts);
}

async function startNode(opts: EdgeUnderTestOptions): Promise<EdgeUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edge-under-test-'));
  const errors: string[] = [];
  const detail = (d: unknown) => (d === undefined ? '' : ` ${d instanceof Error ? (d.stack ?? d.message) : String(d)}`);
  try {
    const edge = await startEdge({
      dataDir,
      port: 0,
      config: {
        adminToken: ADMIN_TOKEN,
        workerToken: WORKER_TOKEN,
        localMode: opts.localMode ?? false,
        ...(opts.maxJsonBytes ? { maxJsonBytes: opts.maxJsonBytes } : {}),
        rateLimit: { requestsPerWindow: REQUESTS_PER_WINDOW },
        logger: { error: (m, d) => void errors.push(`${m}${detail(d)}`), warn: () => {} },
      },
      s3: s3Config(opts.s3.endpoint, opts.s3.bucket),
      backgroundIntervalMs: 0,
    });
    return {
      runtime: 'node',
      base: edge.url,
      port: Number(new URL(edge.url).port),
      adminToken: ADMIN_TOKEN,
      workerToken: WORKER_TOKEN,
      fetch: (path, init) => fetch(edge.url + path, init),
      ...sqlView(edge.db.raw),
      ...bucketOf(opts.s3),
      loggedErrors: async () => [...errors],
      devProxyRetries: () => 0,
      async close() {
        await edge.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

const BARRIER_LINE = '[edge] inference embeddings/text failed INFERENCE_URL is not configured';
const ANSI = /\x1b\[[0-9;]*m/g;

/** The `✘ [ERROR]` entries of wrangler's output (first line of each), in order. */
export function wranglerErrors(log: string): string[] {
  return log
    .replace(ANSI, '')
    .split('\n')
    .filter((l) => /✘ \[ERROR\]|\[wrangler:error\]/.test(l))
    .map((l) => l.trim());
}

/** wrangler dev's proxy's own answer when its connection to the worker was lost (see the header). */
const DEV_PROXY_RESTARTED = /restarted mid-request/;

async function startWorkerd(opts: EdgeUnderTestOptions): Promise<EdgeUnderTest> {
  const dev = await startWranglerDev({
    vars: edgeVars(opts.s3, {
      ADMIN_TOKEN,
      WORKER_TOKEN,
      LOCAL_MODE: String(opts.localMode ?? false),
      ...(opts.maxJsonBytes ? { MAX_JSON_BYTES: String(opts.maxJsonBytes) } : {}),
    }),
    editConfig: (toml) => toml.replace(/(name = "RATE_LIMITER"[\s\S]*?limit = )\d+/, `$1${REQUESTS_PER_WINDOW}`),
  });
  let db: Database.Database | undefined;
  try {
    const d1Dir = join(dev.stateDir, 'v3/d1/miniflare-D1DatabaseObject');
    const files = readdirSync(d1Dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
    if (files.length !== 1) throw new Error(`expected one local D1 database in ${d1Dir}, found ${JSON.stringify(files)}`);
    db = new Database(join(d1Dir, files[0]), { readonly: true, fileMustExist: true });
    const f = (path: string, init?: RequestInit) => fetch(dev.base + path, init);

    const t = await f('/v1/tenants', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'log barrier' }),
    });
    if (t.status !== 201) throw new Error(`barrier tenant: ${t.status} ${await t.text()}`);
    const barrierKey = ((await t.json()) as { api_key: string }).api_key;
    let barriers = 0;
    let proxyRetries = 0;

    /** The barrier request: 503 inference_unavailable from the edge (sent again after the dev proxy's own 503). */
    const barrier = async () => {
      for (let attempt = 1; ; attempt++) {
        const res = await f('/v1/embeddings/text', {
          method: 'POST',
          headers: { authorization: `Bearer ${barrierKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ texts: ['barrier'] }),
        });
        const text = await res.text();
        if (res.status === 503 && text.includes('"inference_unavailable"')) return;
        if (res.status === 503 && DEV_PROXY_RESTARTED.test(text) && attempt < 3) {
          proxyRetries++;
          continue;
        }
        throw new Error(`log barrier: expected 503 inference_unavailable, got ${res.status}: ${text.slice(0, 300)}`);
      }
    };

    const opened = db;
    return {
      runtime: 'workerd',
      base: dev.base,
      port: Number(new URL(dev.base).port),
      adminToken: ADMIN_TOKEN,
      workerToken: WORKER_TOKEN,
      fetch: f,
      ...sqlView(opened),
      ...bucketOf(opts.s3),
      devProxyRetries: () => proxyRetries,
      async loggedErrors() {
        await barrier();
        const n = ++barriers;
        // An empty list of errors is still an answer (arrays are truthy); undefined means the barrier is not in yet.
        return waitUntil(
          `log barrier ${n} in wrangler's output`,
          () => {
            const entries = wranglerErrors(dev.log());
            if (entries.filter((e) => e.includes(BARRIER_LINE)).length < n) return undefined;
            return entries.filter((e) => !e.includes(BARRIER_LINE));
          },
          { timeoutMs: 15_000, intervalMs: 5, context: () => dev.log().slice(-3000) },
        );
      },
      async close() {
        opened.close();
        await dev.stop();
      },
    };
  } catch (err) {
    db?.close();
    await dev.stop();
    throw err;
  }
}
