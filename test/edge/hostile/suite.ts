// Hostile input against a real edge (issue 7, part 3; both runtimes: issue 16): the case tables of cases-input.ts and
// cases-access.ts, each case one raw HTTP request (http.ts) to the edge under test (test/helpers/edge-under-test.ts):
// on Node with real SQLite and the real S3BlobStore over s3rver (test/edge/hostile-input.test.ts), or the Workers
// build inside workerd with local D1 and S3 on s3rver through aws4fetch (test/edge/workers/hostile-input.test.ts).
// Both run the same tables; an answer that legitimately differs on one runtime is written in its case (`on`) with the
// reason, which is part of the test's name.
//
// For every case the test asserts: the documented 4xx status with `{"error": {"code", "message"}}` and the
// expected code (docs/API.md's list), never a 5xx, nothing logged as an internal error, and nothing
// half-written: the row counts of every resource table (idempotency keys included, revoked keys counted
// separately) and the object keys in the bucket are exactly what they were before the case.
//
// Presigned cases need state first (a pending upload and a PUT to s3rver), made by the case's `setup`; their
// baseline is taken before that setup, so after the rejected /uploads/complete the pending row and any object
// must be gone again. s3rver (3.7.1) checks the expiry of a SigV4 presigned URL but never the signature itself
// (see test/shared/storage/s3-blob-store.test.ts), so for a URL replayed for another key or with another
// Content-Type/Content-Length the test checks the signature the way S3 does (it must not match: real S3
// answers 403 SignatureDoesNotMatch) and then requires the edge's own verification at /uploads/complete to
// refuse what s3rver let through.
//
// A second, smaller table holds hostile-looking input that is valid data (SQL in a name or a cursor, path
// traversal in a label or filename): it is accepted and stored verbatim, and every table stays intact.
// After both tables the server still answers /healthz and normal authenticated requests.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../../edge/http/errors.ts';
import { ADMIN_TOKEN } from '../../helpers/edge.ts';
import { type Runtime, startEdgeUnderTest } from '../../helpers/edge-under-test.ts';
import { startS3rver } from '../../helpers/s3rver.ts';
import { ACCEPTED, ACCESS_CASES } from './cases-access.ts';
import { INPUT_CASES } from './cases-input.ts';
import { type Case, MAX_JSON_BYTES, type RuntimeNote, S, stack } from './context.ts';
import { type Res, auth, filePart, labelPart, ok, postJson, send, target, upload } from './http.ts';

/** The cases each runtime leaves out, by name (each case's `why` says why). */
const NOT_RUN: Record<Runtime, string[]> = {
  node: [],
  workerd: ['Content-Length of 10 GB declared, tiny body'],
};

export const CASES: Case[] = [...INPUT_CASES, ...ACCESS_CASES];

/**
 * Every resource table of the schema, read from the database itself (so a new table is covered without editing this
 * list); rate_windows is left out: counting requests is its job. blob_sweeps is the reconciliation's to-do list (e.g.
 * a rejected upload's staging key, kept until its URL expires), not stored data.
 */
function resourceTables(): string[] {
  return stack.edge.tables().filter((n) => n !== 'rate_windows' && n !== 'blob_sweeps');
}

interface Snapshot {
  rows: Record<string, number>;
  objects: string[];
}

async function snapshot(): Promise<Snapshot> {
  const { edge } = stack;
  const rows: Record<string, number> = {};
  const tables = resourceTables();
  expect(tables).toEqual(expect.arrayContaining(['tenants', 'api_keys', 'datasets', 'images', 'training_jobs', 'idempotency_keys', 'webhook_deliveries']));
  for (const t of tables) rows[t] = edge.count(`SELECT COUNT(*) AS n FROM ${t}`);
  rows['images (stored)'] = edge.count("SELECT COUNT(*) AS n FROM images WHERE status = 'stored'");
  rows['api_keys (revoked)'] = edge.count('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NOT NULL');
  rows['datasets (ready)'] = edge.count("SELECT COUNT(*) AS n FROM datasets WHERE status = 'ready'");
  return { rows, objects: await edge.bucketKeys() };
}

function expectErrorShape(res: Res, c: { status: number; code: ErrorCode }): void {
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${res.text.slice(0, 200)}`);
  }
  expect(res.status, res.text.slice(0, 400)).toBe(c.status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const err = (body as { error: { code: string; message: string; param?: string } }).error;
  expect(Object.keys(body as object)).toEqual(['error']);
  expect(Object.keys(err).filter((k) => k !== 'code' && k !== 'message' && k !== 'param')).toEqual([]);
  expect(err.code).toBe(c.code);
  expect(typeof err.message).toBe('string');
  expect(err.message.length).toBeGreaterThan(10);
  if (err.param !== undefined) expect(typeof err.param).toBe('string');
}

/** The answer `runtime` must give to `c`, and the test's name (with the reason when the runtime differs). */
function expected(c: Case, runtime: Runtime): { status: number; code: ErrorCode; title: string; note?: RuntimeNote } {
  const note = c.on?.[runtime];
  const status = note?.status ?? c.status;
  const code = note?.code ?? c.code;
  return { status, code, note, title: `${c.category}: ${c.name} → ${status} ${code}${note ? ` (on ${runtime}: ${note.why})` : ''}` };
}

export function hostileInputSuite(runtime: Runtime): void {
  /** Errors logged so far and already attributed to a case. */
  let errorsSeen = 0;
  /** The errors logged since the last call (on workerd after a log barrier). */
  const newErrors = async () => {
    const all = await stack.edge.loggedErrors();
    const fresh = all.slice(errorsSeen);
    errorsSeen = all.length;
    return fresh;
  };

  beforeAll(async () => {
    const base = sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 200, g: 30, b: 60 } } });
    S.png = await base.clone().png().toBuffer();
    S.jpeg = await base.clone().jpeg().toBuffer();
    S.webp = await base.clone().webp().toBuffer();

    stack.s3 = await startS3rver();
    stack.edge = await startEdgeUnderTest(runtime, { s3: stack.s3, maxJsonBytes: MAX_JSON_BYTES });
    target.port = stack.edge.port;

    const a = await ok<{ id: string; api_key: string }>(postJson(ADMIN_TOKEN, '/v1/tenants', { name: 'Acme' }), 201);
    const b = await ok<{ id: string; api_key: string }>(postJson(ADMIN_TOKEN, '/v1/tenants', { name: 'Victim' }), 201);
    S.key = a.api_key;
    S.tenantId = a.id;
    S.keyB = b.api_key;
    S.tenantB = b.id;

    const extra = await ok<{ id: string; api_key: string }>({ method: 'POST', path: '/v1/api-keys', headers: auth(S.key) }, 201);
    await ok({ method: 'DELETE', path: `/v1/api-keys/${extra.id}`, headers: auth(S.key) }, 204);
    S.revokedKey = extra.api_key;

    S.openDs = (await ok<{ id: string }>(postJson(S.key, '/v1/datasets', { name: 'open' }), 201)).id;
    S.typedDs = (await ok<{ id: string }>(postJson(S.key, '/v1/datasets', { name: 'typed', classes: ['cat', 'dog'] }), 201)).id;
    S.readyDs = (await ok<{ id: string }>(postJson(S.key, '/v1/datasets', { name: 'ready', classes: ['cat', 'dog'] }), 201)).id;
    for (const label of ['cat', 'dog']) await ok(upload(S.key, S.readyDs, [labelPart(label), filePart(S.png)]), 201);
    await ok(postJson(S.key, `/v1/datasets/${S.readyDs}/finalize`, {}), 200);

    S.dsB = (await ok<{ id: string }>(postJson(S.keyB, '/v1/datasets', { name: 'b' }), 201)).id;
    const upB = await ok<{ uploads: { image_id: string }[] }>(
      postJson(S.keyB, `/v1/datasets/${S.dsB}/uploads`, { files: [{ label: 'cat', content_type: 'image/png', bytes: S.png.length }] }),
      201,
    );
    S.imageB = upB.uploads[0].image_id;
    expect(await newErrors()).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await stack.edge?.close();
    await stack.s3?.stop();
  });

  const notRun = CASES.filter((c) => c.on?.[runtime]?.skip).length;
  const counted = `${CASES.length} cases${notRun ? ` (${notRun} not run here, each saying why)` : ''}`;
  describe(`hostile input on ${runtime}: ${counted}, each a documented 4xx that writes nothing`, () => {
    it('the corpus is large, its names are distinct, and every runtime-specific answer says why', () => {
      expect(CASES.length).toBeGreaterThanOrEqual(70);
      const names = CASES.map((c) => `${c.category}: ${c.name}`);
      expect(new Set(names).size).toBe(names.length);
      for (const c of CASES) {
        for (const r of ['node', 'workerd'] as const) {
          const e = expected(c, r);
          expect(e.status).toBeGreaterThanOrEqual(400);
          expect(e.status).toBeLessThan(500);
        }
        for (const d of Object.values(c.on ?? {})) expect(d.why.length, c.name).toBeGreaterThan(40);
      }
    });

    // A case that cannot run on this runtime is left out of the loop below, not skipped: the test above requires its
    // reason, and this one names every such case so none can drop out unnoticed.
    it('the cases not run here are exactly the ones that say why', () => {
      const left = CASES.filter((c) => c.on?.[runtime]?.skip).map((c) => c.name);
      expect(left).toEqual(NOT_RUN[runtime]);
    });

    for (const c of CASES) {
      const e = expected(c, runtime);
      if (e.note?.skip) continue;
      it(e.title, async () => {
        let before = c.baseline === 'before-setup' ? await snapshot() : null;
        const state = c.setup ? await c.setup() : undefined;
        before ??= await snapshot();
        const proxyRetries = stack.edge.devProxyRetries();

        const res = await send(c.request(state));
        expect(res.status).toBeLessThan(500);
        expectErrorShape(res, e);
        await c.check?.(state, res);

        expect(await newErrors()).toEqual([]);
        if (!e.note?.breaksDevProxy) expect(stack.edge.devProxyRetries(), "wrangler dev's proxy lost its connection to the worker").toBe(proxyRetries);
        expect(await snapshot()).toEqual(before);
      });
    }
  });

  describe(`hostile-looking input that is valid data (${runtime})`, () => {
    it.each(ACCEPTED.map((a) => [a.name, a] as const))('%s', async (_, a) => {
      const before = await snapshot();
      const proxyRetries = stack.edge.devProxyRetries();
      const res = await send(a.request());
      expect(res.status, res.text.slice(0, 300)).toBe(a.status);
      a.check(JSON.parse(res.text));
      const after = await snapshot();
      const expectedRows = { ...before.rows };
      for (const [t, n] of Object.entries(a.adds)) if (t !== 'objects') expectedRows[t] += n;
      expect(after.rows).toEqual(expectedRows);
      expect(after.objects.length).toBe(before.objects.length + (a.adds.objects ?? 0));
      // Every table still exists and answers.
      for (const t of resourceTables()) expect(() => stack.edge.all(`SELECT 1 FROM ${t} LIMIT 1`)).not.toThrow();
      expect(await newErrors()).toEqual([]);
      expect(stack.edge.devProxyRetries()).toBe(proxyRetries);
    });
  });

  describe(`after the corpus (${runtime})`, () => {
    it('the server is up: /healthz, GET /v1/me, a dataset with an image; nothing was ever logged as an internal error', async () => {
      const health = await send({ method: 'GET', path: '/healthz' });
      expect(health.status).toBe(200);

      const me = await ok<{ id: string; name: string }>({ method: 'GET', path: '/v1/me', headers: auth(S.key) }, 200);
      expect(me).toMatchObject({ id: S.tenantId, name: 'Acme' });

      const ds = await ok<{ id: string; status: string }>(postJson(S.key, '/v1/datasets', { name: 'after the storm' }), 201);
      expect(ds.status).toBe('open');
      const up = await ok<{ images: { label: string; width: number; height: number }[] }>(upload(S.key, ds.id, [labelPart('cat'), filePart(S.png)]), 201);
      expect(up.images).toMatchObject([{ label: 'cat', width: 8, height: 6 }]);
      const got = await ok<{ image_count: number }>({ method: 'GET', path: `/v1/datasets/${ds.id}`, headers: auth(S.key) }, 200);
      expect(got.image_count).toBe(1);
      expect(await stack.edge.loggedErrors()).toEqual([]);
    });
  });
}
