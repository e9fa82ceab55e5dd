// ${DATA_DIR}/stack.json: how to reach a running local stack (`npm start`). Written when the stack is ready,
// removed when it stops; read by `npm run worker` (one more worker) and `npm run demo`. Mode 0600: it holds the
// S3 credentials of the local S3-protocol server (the tokens stay in their own files, admin-token / worker-token).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalStackInfo {
  /** The edge's base URL. */
  edge_url: string;
  /** Where the edge runs: node (SQLite) or workerd (`npm start -- --edge workerd`). */
  edge_runtime?: 'node' | 'workerd';
  /** The worker inference server the edge forwards classification to. */
  inference_url: string;
  /** The base CLIP model directory the stack's worker uses. */
  model_dir: string;
  s3: { endpoint: string; bucket: string; region: string; access_key_id: string; secret_access_key: string };
  /** The launcher's process id (to tell a stale file from a running stack). */
  pid: number;
  started_at: string;
}

export const STACK_FILE = 'stack.json';

export function writeStackInfo(dataDir: string, info: LocalStackInfo): void {
  writeFileSync(join(dataDir, STACK_FILE), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
}

export function removeStackInfo(dataDir: string): void {
  rmSync(join(dataDir, STACK_FILE), { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running stack's settings, or an Error whose message says what to do. */
export function readStackInfo(dataDir: string): LocalStackInfo {
  const file = join(dataDir, STACK_FILE);
  if (!existsSync(file)) throw new Error(`no local stack running with DATA_DIR=${dataDir} (${file} is missing): start one with \`npm start\``);
  let info: LocalStackInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as LocalStackInfo;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); restart the stack with \`npm start\``);
  }
  if (typeof info.edge_url !== 'string' || typeof info.s3?.endpoint !== 'string' || typeof info.pid !== 'number') {
    throw new Error(`${file} is incomplete; restart the stack with \`npm start\``);
  }
  if (!processAlive(info.pid)) throw new Error(`the local stack that wrote ${file} (pid ${info.pid}) is not running: start one with \`npm start\``);
  return info;
}

/** A token file in DATA_DIR (admin-token, worker-token), trimmed. */
export function readTokenFile(dataDir: string, name: 'admin-token' | 'worker-token'): string {
  const file = join(dataDir, name);
  if (!existsSync(file)) throw new Error(`${file} is missing: start the stack once with \`npm start\` (or set ${name === 'admin-token' ? 'ADMIN_TOKEN' : 'WORKER_TOKEN'})`);
  return readFileSync(file, 'utf8').trim();
}
