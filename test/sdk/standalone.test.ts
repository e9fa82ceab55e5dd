// The SDK stands alone, as customers get it: it imports nothing of the platform's code (edge/, gpu-worker/, shared/),
// its core imports no Node module; the package built by its own build (tsc, sdk/tsconfig.json) runs in plain Node
// (no tsx) through its package.json exports and typechecks for a consumer without Node's types; its core runs
// inside workerd (a Worker bundled by wrangler, no nodejs_compat) against a real edge.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEdge, startTestEdge } from '../helpers/edge.ts';
import { ROOT } from '../helpers/processes.ts';
import { startWorker } from './workerd.ts';

const run = promisify(execFile);
const SDK = join(ROOT, 'sdk');
let edge: TestEdge;
let scratch: string;

beforeAll(async () => {
  edge = await startTestEdge();
  scratch = mkdtempSync(join(tmpdir(), 'sdk-standalone-'));
});
afterAll(async () => {
  await edge?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
}

/** A signed webhook, as the API sends them. */
function signedWebhook(secret: string) {
  const body = JSON.stringify({ type: 'training_job.succeeded', timestamp: new Date().toISOString(), data: { id: 'job_x', status: 'succeeded', model_id: 'mdl_x', metrics: {} } });
  const now = new Date();
  const headers = { 'webhook-id': 'msg_x', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_x', now, body) };
  return { body, headers };
}
const SECRET = `whsec_${Buffer.from('a webhook secret of 32 bytes....').toString('base64')}`;

describe('the SDK stands alone', () => {
  it('imports only its own files, its dependencies and (in src/node only) Node modules', () => {
    const deps = Object.keys((JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const problems: string[] = [];
    const files = [...tsFiles(join(SDK, 'src')), ...tsFiles(join(SDK, 'examples'))];
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const nodeAllowed = file.startsWith(join(SDK, 'src', 'node') + '/') || file.startsWith(join(SDK, 'examples') + '/');
      for (const spec of importsOf(file)) {
        const where = `${relative(ROOT, file)}: '${spec}'`;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(join(SDK, 'src') + '/')) problems.push(`${where} reaches outside sdk/src`);
        } else if (spec.startsWith('node:')) {
          if (!nodeAllowed) problems.push(`${where}: a Node module in the core (Workers-safe) part`);
        } else if (!deps.includes(spec)) problems.push(`${where}: not a dependency of sdk/package.json`);
      }
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''); // comments may name them
      if (!nodeAllowed && /\bBuffer\b|\bprocess\.|\brequire\(/.test(code)) problems.push(`${relative(ROOT, file)} uses a Node global`);
    }
    expect(problems).toEqual([]);
  });

  it('its hand-written files are at most 500 lines (the generated types are exempt)', () => {
    const long = [...tsFiles(join(SDK, 'src')), ...tsFiles(join(SDK, 'examples'))]
      .filter((f) => !f.includes('/generated/'))
      .map((f) => `${relative(ROOT, f)}: ${readFileSync(f, 'utf8').split('\n').length} lines`)
      .filter((line) => Number(line.split(': ')[1]!.split(' ')[0]) > 500);
    expect(long).toEqual([]);
  });

  it('the package built by its own tsconfig runs in plain Node through its exports, and typechecks without Node types', async () => {
    const pkg = join(scratch, 'pkg');
    mkdirSync(pkg);
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(SDK, 'tsconfig.json'), '--outDir', join(pkg, 'dist')], { cwd: ROOT });
    cpSync(join(SDK, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules')); // its dependency (standardwebhooks)
    const app = join(scratch, 'app');
    mkdirSync(join(app, 'node_modules/@cocoop'), { recursive: true });
    symlinkSync(pkg, join(app, 'node_modules/@cocoop/sdk'));
    writeFileSync(join(app, 'package.json'), '{"type": "module"}');

    const { api_key } = await edge.createTenant('plain node');
    const hook = signedWebhook(SECRET);
    writeFileSync(
      join(app, 'main.mjs'),
      `import { CoCoOp, NotFoundError, verifyWebhook } from '@cocoop/sdk';
import { CoCoOp as NodeCoCoOp } from '@cocoop/sdk/node';
const client = new CoCoOp(); // COCOOP_BASE_URL, COCOOP_API_KEY
const ds = await client.datasets.create({ name: 'plain node' });
const listed = (await client.datasets.list().toArray()).map((d) => d.id);
const missing = await client.datasets.retrieve('ds_missing').catch((e) => e);
const hook = JSON.parse(process.env.HOOK);
console.log(JSON.stringify({
  created: ds.id, listed, missing: missing instanceof NotFoundError ? missing.code : String(missing),
  uploadFolder: typeof new NodeCoCoOp().datasets.uploadFolder,
  verified: verifyWebhook(hook.body, hook.headers, process.env.SECRET).data.id,
}));
`,
    );
    const { stdout } = await run(process.execPath, ['main.mjs'], {
      cwd: app,
      env: { PATH: process.env.PATH, COCOOP_BASE_URL: edge.url, COCOOP_API_KEY: api_key, HOOK: JSON.stringify(hook), SECRET },
    });
    const out = JSON.parse(stdout) as { created: string; listed: string[]; missing: string; uploadFolder: string; verified: string };
    expect(out).toEqual({ created: out.created, listed: [out.created], missing: 'not_found', uploadFolder: 'function', verified: 'job_x' });
    expect(out.created).toMatch(/^ds_/);

    // A TypeScript consumer of the core with no Node types at all (as on Workers) typechecks against the .d.ts files.
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { CoCoOp, NotFoundError, type Dataset } from '@cocoop/sdk';
const client = new CoCoOp({ baseURL: 'https://api.example.com', apiKey: 'k' });
export async function names(): Promise<string[]> {
  const out: string[] = [];
  for await (const d of client.datasets.list()) out.push((d satisfies Dataset).name);
  return out;
}
export const isMissing = (e: unknown) => e instanceof NotFoundError && e.code === 'not_found';
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [], lib: ['ES2022', 'DOM'] }, files: ['consumer.ts'] }),
    );
    await expect(run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app })).resolves.toBeDefined();
  }, 60_000);

  it('its core runs in workerd (wrangler-bundled Worker, no nodejs_compat): calls, pagination, errors, webhooks.verify', async () => {
    const { api_key } = await edge.createTenant('workerd');
    const worker = await startWorker(join(ROOT, 'test/sdk/workers/sdk-worker.ts'), { API_URL: edge.url, API_KEY: api_key });
    try {
      const calls = (await (await fetch(`${worker.base}/calls`)).json()) as { created: string; listed: string[]; missing: unknown };
      expect(calls.created).toMatch(/^ds_/);
      expect(calls.listed).toEqual([calls.created]);
      expect(calls.missing).toEqual({ status: 404, code: 'not_found' });

      const hook = signedWebhook(SECRET);
      const verify = (body: string) => fetch(`${worker.base}/verify?secret=${encodeURIComponent(SECRET)}`, { method: 'POST', headers: hook.headers, body }).then((r) => r.json());
      expect(await verify(hook.body)).toMatchObject({ verified: true, event: { type: 'training_job.succeeded', data: { id: 'job_x' } } });
      expect(await verify(hook.body.replace('job_x', 'job_y'))).toEqual({ verified: false, error: 'WebhookVerificationError' });
    } finally {
      await worker.stop();
    }
  }, 120_000);
});
