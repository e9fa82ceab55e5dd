// The edge of the local stack inside workerd (`npm start -- --edge workerd`, scripts/start-local.ts): the Workers build
// under `wrangler dev --local` (scripts/lib/workerd-edge.ts) with D1, KV and Queues persisted in ${DATA_DIR}/workerd/state
// (so datasets, jobs and models survive a restart, as the SQLite file does on Node), its generated config in
// ${DATA_DIR}/workerd. Vars and secrets: the tokens, S3_* pointing at the local S3-protocol server (path style),
// LOCAL_MODE=true (loopback webhook receivers), INFERENCE_URL, and the edge settings of the environment that
// configFromEnv reads (QUOTA_*, MAX_*, WEBHOOK_RETRY_SCHEDULE, ...). RATE_LIMIT_REQUESTS and AUTH_FAILURE_LIMIT become
// the limits of the rate-limiting bindings (their period stays 60 s).
//
// Local workerd fires no cron trigger by itself: the launcher runs it (GET /__scheduled, `--test-scheduled`) every
// BACKGROUND_INTERVAL_MS (default 1000, as the Node edge's timer in local mode; 0: never), one run at a time.
// Webhooks go through the local Queues consumer, as in production. When wrangler exits unexpectedly it is restarted on
// the same port with a backoff.
import { join } from 'node:path';
import { type WorkerdEdge, startWorkerdEdge } from './workerd-edge.ts';

/** Edge settings passed from the launcher's environment to .dev.vars when set. */
const PASSED_VARS = [
  'MAX_JSON_BYTES', 'PUBLIC_BASE_URL', 'BASE_MODEL', 'MAX_JOB_ATTEMPTS', 'JOB_STALL_SECONDS', 'JOB_MAX_SECONDS', 'RETENTION_DAYS',
  'MAX_WEBHOOK_ENDPOINTS', 'QUOTA_DATASETS', 'QUOTA_IMAGES', 'QUOTA_BYTES', 'QUOTA_CONCURRENT_JOBS', 'CLIENT_IP_HEADER',
  'WEBHOOK_RETRY_SCHEDULE', 'S3_TIMEOUT_MS', 'ORPHAN_GRACE_HOURS',
];

/**
 * wrangler's log lines not forwarded: the launcher's own /__scheduled requests and the workers' empty lease polls (each
 * several a second would drown the log), and blank lines.
 */
const QUIET_LINE = /\b(GET|POST) \/__scheduled\b|Running scheduled event|POST \/internal\/v1\/leases 204 |^\s*$/;

export interface LocalWorkerdOptions {
  dataDir: string;
  host: string;
  /** 0: a free port chosen by wrangler at the first start (kept for restarts). */
  port: number;
  adminToken: string;
  workerToken: string;
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region: string };
  inferenceUrl: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface LocalWorkerd {
  url: string;
  /** The pid of the running wrangler process (it leads the process group of wrangler and workerd). */
  pid(): number | null;
  stop(): Promise<void>;
}

function backgroundIntervalMs(env: NodeJS.ProcessEnv): number {
  const raw = env.BACKGROUND_INTERVAL_MS?.trim();
  if (!raw) return 1000;
  if (!/^\d+$/.test(raw)) throw new Error(`BACKGROUND_INTERVAL_MS must be a whole number of milliseconds, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export async function startLocalWorkerd(opts: LocalWorkerdOptions): Promise<LocalWorkerd> {
  const { env, log } = opts;
  const intervalMs = backgroundIntervalMs(env);
  const vars: Record<string, string> = {
    ADMIN_TOKEN: opts.adminToken,
    WORKER_TOKEN: opts.workerToken,
    S3_ENDPOINT: opts.s3.endpoint,
    S3_BUCKET: opts.s3.bucket,
    S3_REGION: opts.s3.region,
    S3_ACCESS_KEY_ID: opts.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: opts.s3.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    LOCAL_MODE: 'true',
    INFERENCE_URL: opts.inferenceUrl,
  };
  for (const name of PASSED_VARS) if (env[name]) vars[name] = env[name]!;
  const limit = (name: string, value: string | undefined) => (toml: string) =>
    value && /^\d+$/.test(value.trim()) ? toml.replace(new RegExp(`(name = "${name}"[\\s\\S]*?limit = )\\d+`), `$1${value.trim()}`) : toml;
  const editConfig = (toml: string) => limit('AUTH_FAILURE_LIMITER', env.AUTH_FAILURE_LIMIT)(limit('RATE_LIMITER', env.RATE_LIMIT_REQUESTS)(toml));
  const dir = join(opts.dataDir, 'workerd');
  const stateDir = join(dir, 'state');

  let port = opts.port;
  let stopping = false;
  const start = async (): Promise<WorkerdEdge> => {
    const edge = await startWorkerdEdge({
      dir, stateDir, vars, editConfig, host: opts.host, port, testScheduled: true,
      onLine: (line) => {
        if (!QUIET_LINE.test(line)) log(line);
      },
    });
    log(`pid ${edge.child.pid}`);
    return edge;
  };

  let current: WorkerdEdge | null = await start();
  const url = current.base;
  port = Number(new URL(url).port);

  // Supervision: restart with a backoff on an unexpected exit.
  let backoffMs = 500;
  let restartTimer: NodeJS.Timeout | null = null;
  const watch = (edge: WorkerdEdge) => {
    const startedAt = Date.now();
    void edge.exited.then((code) => {
      if (stopping || current !== edge) return;
      current = null;
      if (Date.now() - startedAt > 60_000) backoffMs = 500;
      log(`pid ${edge.child.pid} exited (${code === null ? `signal ${edge.child.signalCode}` : `code ${code}`}); restarting in ${backoffMs} ms`);
      const again = () => {
        restartTimer = null;
        if (stopping) return;
        start().then(
          (next) => {
            if (stopping) return void next.stop();
            current = next;
            watch(next);
          },
          (err: unknown) => {
            log(`restart failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
            backoffMs = Math.min(backoffMs * 2, 30_000);
            restartTimer = setTimeout(again, backoffMs);
          },
        );
      };
      restartTimer = setTimeout(again, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    });
  };
  watch(current);

  // The cron trigger, run by the launcher: one run at a time, the next one `intervalMs` after the previous ended.
  let tickTimer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  let lastError = '';
  const tick = () => {
    tickTimer = null;
    ticking = (async () => {
      try {
        const res = await fetch(`${url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`, { signal: AbortSignal.timeout(60_000) });
        await res.arrayBuffer();
        const problem = res.ok ? '' : `background tasks: /__scheduled answered ${res.status}`;
        if (problem && problem !== lastError) log(problem);
        lastError = problem;
      } catch (err) {
        // wrangler restarting, or stopping: said once, not every second.
        const problem = `background tasks: ${err instanceof Error ? err.message : String(err)}`;
        if (!stopping && problem !== lastError) log(problem);
        lastError = problem;
      }
    })();
    void ticking.then(() => {
      ticking = null;
      if (!stopping) tickTimer = setTimeout(tick, intervalMs);
    });
  };
  if (intervalMs > 0) tickTimer = setTimeout(tick, intervalMs);

  let stopped: Promise<void> | null = null;
  return {
    url,
    pid: () => current?.child.pid ?? null,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        if (tickTimer) clearTimeout(tickTimer);
        if (restartTimer) clearTimeout(restartTimer);
        await ticking;
        await current?.stop(10_000);
      })();
      return stopped;
    },
  };
}
