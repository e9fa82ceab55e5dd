// Edge configuration: defaults, validation, and reading it from environment variables (a plain
// string record, which both process.env on Node and the Workers `env` bindings are).
import { type Clock, systemClock } from './clock.ts';

export interface Quotas {
  datasets: number;
  images: number;
  /** Stored bytes: dataset images plus published model artifacts. */
  bytes: number;
  /** Training jobs queued, running or cancelling at the same time. */
  concurrent_jobs: number;
}

export interface RateLimitConfig {
  /** Requests one API key may make per window (Node; on Workers the RATE_LIMITER binding's own limit applies). */
  requestsPerWindow: number;
  windowMs: number;
  /**
   * Failed authentications one client address may make per window (Node; on Workers the AUTH_FAILURE_LIMITER
   * binding's limit); after that its requests are 429 until the window ends, before credentials are checked.
   */
  authFailuresPerWindow: number;
  /**
   * Node behind a proxy: the request header holding the client's address as the proxy sets it (e.g. x-real-ip; for
   * x-forwarded-for the last entry). Unset: the socket's address; client-sent headers are not trusted.
   */
  clientIpHeader?: string;
}

export interface Logger {
  error(message: string, detail?: unknown): void;
  warn(message: string, detail?: unknown): void;
}

export interface EdgeConfig {
  /** Bearer token of the operator: creates tenants. */
  adminToken: string;
  /**
   * Bearer token of the GPU workers (lease, heartbeat, complete): the bootstrap/legacy token, accepted besides the
   * per-worker tokens issued by POST /v1/workers (docs/deploy.md).
   */
  workerToken: string;
  /**
   * The token the edge sends to the inference service (INFERENCE_TOKEN; default: workerToken). Set it to another value
   * so that workers, which must accept it, need not hold the configured worker token.
   */
  inferenceToken: string;
  /**
   * METRICS_TOKEN: the read-only token of GET /metrics, /metrics.json and /metrics/queue (Prometheus, KEDA), which the
   * admin token also opens. Unset: only the admin token reads them.
   */
  metricsToken?: string;
  /** `npm start` on one machine: e.g. webhooks may target loopback. */
  localMode: boolean;
  /** Largest JSON request body accepted (bytes). */
  maxJsonBytes: number;
  rateLimit: RateLimitConfig;
  /** Per-tenant limits (reported by GET /v1/me). */
  quotas: Quotas;
  /** The externally visible base URL (no trailing slash), e.g. https://api.example.com. */
  publicBaseUrl?: string;
  /** Base URL of the GPU inference service (POST /v1/classify, /v1/embeddings/text); unset → those answer 503 inference_unavailable. */
  inferenceUrl?: string;
  /** The CLIP model of `model: "zero-shot"`. */
  baseModel: string;
  /**
   * Most leases one training job gets. A lease that would start attempt maxJobAttempts + 1 (its workers
   * stopped that many times without finishing) fails the job with `too_many_attempts` instead.
   */
  maxJobAttempts: number;
  /**
   * A heartbeat of a job (or evaluation) whose progress has not moved for this long fails it with `stalled`: a worker
   * stuck on a silent socket must not hold its lease and the tenant's job slot forever.
   */
  jobStallSeconds: number;
  /** A heartbeat of a job (or evaluation) running longer than this fails it with `timed_out`. */
  jobMaxSeconds: number;
  /**
   * Days job events, webhook deliveries (with their attempts) and the rows of final jobs and evaluations are
   * kept after they end (edge/retention.ts); the row of a job whose model still exists is kept.
   */
  retentionDays: number;
  /**
   * The bucket reconciliation (edge/bucket/reconcile.ts) removes an object that no row refers to only once it is older
   * than this many hours, so an object whose row is still being written is never touched.
   */
  orphanGraceHours: number;
  /** Webhook endpoints one tenant may have (disabled ones count until deleted); creating one more is 409. */
  maxWebhookEndpoints: number;
  logger: Logger;
  /** "Now" for leases, heartbeats, rate windows, upload expiry and the background timer (edge/clock.ts); default the system clock. */
  clock: Clock;
}

export type EdgeConfigInput = Pick<EdgeConfig, 'adminToken' | 'workerToken'> &
  Partial<Omit<EdgeConfig, 'adminToken' | 'workerToken' | 'rateLimit' | 'quotas'>> & {
    rateLimit?: Partial<RateLimitConfig>;
    quotas?: Partial<Quotas>;
  };

export const DEFAULT_QUOTAS: Quotas = {
  datasets: 50,
  images: 20_000,
  bytes: 2 * 1024 ** 3,
  concurrent_jobs: 2,
};

export const DEFAULTS = {
  localMode: false,
  maxJsonBytes: 1024 * 1024,
  rateLimit: { requestsPerWindow: 600, windowMs: 60_000, authFailuresPerWindow: 30 },
  quotas: DEFAULT_QUOTAS,
  baseModel: 'toy-clip',
  maxJobAttempts: 5,
  jobStallSeconds: 3600,
  jobMaxSeconds: 48 * 3600,
  retentionDays: 30,
  orphanGraceHours: 24,
  maxWebhookEndpoints: 20,
} as const;

/** Shortest accepted admin/worker token. */
export const MIN_TOKEN_LENGTH = 16;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid edge configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const consoleLogger: Logger = {
  error: (message, detail) => console.error(message, ...(detail === undefined ? [] : [detail])),
  warn: (message, detail) => console.warn(message, ...(detail === undefined ? [] : [detail])),
};

function positiveInt(problems: string[], name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    problems.push(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
}

/** Applies defaults and validates; throws ConfigError listing every problem. */
export function resolveConfig(input: EdgeConfigInput): EdgeConfig {
  const config: EdgeConfig = {
    adminToken: input.adminToken,
    workerToken: input.workerToken,
    inferenceToken: input.inferenceToken ?? input.workerToken,
    metricsToken: input.metricsToken,
    localMode: input.localMode ?? DEFAULTS.localMode,
    maxJsonBytes: input.maxJsonBytes ?? DEFAULTS.maxJsonBytes,
    rateLimit: { ...DEFAULTS.rateLimit, ...input.rateLimit },
    quotas: { ...DEFAULTS.quotas, ...input.quotas },
    publicBaseUrl: input.publicBaseUrl,
    inferenceUrl: input.inferenceUrl,
    baseModel: input.baseModel ?? DEFAULTS.baseModel,
    maxJobAttempts: input.maxJobAttempts ?? DEFAULTS.maxJobAttempts,
    jobStallSeconds: input.jobStallSeconds ?? DEFAULTS.jobStallSeconds,
    jobMaxSeconds: input.jobMaxSeconds ?? DEFAULTS.jobMaxSeconds,
    retentionDays: input.retentionDays ?? DEFAULTS.retentionDays,
    orphanGraceHours: input.orphanGraceHours ?? DEFAULTS.orphanGraceHours,
    maxWebhookEndpoints: input.maxWebhookEndpoints ?? DEFAULTS.maxWebhookEndpoints,
    logger: input.logger ?? consoleLogger,
    clock: input.clock ?? systemClock,
  };

  const problems: string[] = [];
  for (const name of ['adminToken', 'workerToken', 'inferenceToken'] as const) {
    const t = config[name];
    if (typeof t !== 'string' || t.length < MIN_TOKEN_LENGTH) {
      problems.push(`${name} must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
    } else if (!/^[\x21-\x7e]+$/.test(t)) {
      problems.push(`${name} must be printable ASCII without spaces (it is sent as a Bearer token)`);
    }
  }
  if (config.adminToken === config.workerToken) problems.push('adminToken and workerToken must differ');
  if (config.adminToken === config.inferenceToken) problems.push('adminToken and inferenceToken must differ');
  if (config.metricsToken !== undefined) {
    const t = config.metricsToken;
    if (typeof t !== 'string' || t.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(t)) {
      problems.push(`metricsToken must be at least ${MIN_TOKEN_LENGTH} printable ASCII characters without spaces`);
    } else if (t === config.adminToken || t === config.workerToken || t === config.inferenceToken) {
      problems.push('metricsToken must differ from the admin, worker and inference tokens');
    }
  }
  if (typeof config.localMode !== 'boolean') problems.push('localMode must be a boolean');
  positiveInt(problems, 'maxJsonBytes', config.maxJsonBytes);
  positiveInt(problems, 'maxJobAttempts', config.maxJobAttempts);
  positiveInt(problems, 'jobStallSeconds', config.jobStallSeconds);
  positiveInt(problems, 'jobMaxSeconds', config.jobMaxSeconds);
  positiveInt(problems, 'retentionDays', config.retentionDays);
  positiveInt(problems, 'orphanGraceHours', config.orphanGraceHours);
  positiveInt(problems, 'maxWebhookEndpoints', config.maxWebhookEndpoints);
  positiveInt(problems, 'rateLimit.requestsPerWindow', config.rateLimit.requestsPerWindow);
  positiveInt(problems, 'rateLimit.windowMs', config.rateLimit.windowMs);
  positiveInt(problems, 'rateLimit.authFailuresPerWindow', config.rateLimit.authFailuresPerWindow);
  const header = config.rateLimit.clientIpHeader;
  if (header !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(header)) {
    problems.push(`rateLimit.clientIpHeader must be a header name, got ${JSON.stringify(header)}`);
  }
  for (const [k, v] of Object.entries(config.quotas)) positiveInt(problems, `quotas.${k}`, v);

  if (config.publicBaseUrl !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(config.publicBaseUrl);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
      problems.push(`publicBaseUrl must be an http(s) URL without query or fragment, got ${JSON.stringify(config.publicBaseUrl)}`);
    } else {
      config.publicBaseUrl = config.publicBaseUrl.replace(/\/+$/, '');
    }
  }

  if (config.inferenceUrl !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(config.inferenceUrl);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
      problems.push(`inferenceUrl must be an http(s) URL without query or fragment, got ${JSON.stringify(config.inferenceUrl)}`);
    } else {
      config.inferenceUrl = config.inferenceUrl.replace(/\/+$/, '');
    }
  }
  if (typeof config.baseModel !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(config.baseModel)) {
    problems.push(`baseModel must be 1 to 100 printable ASCII characters without spaces, got ${JSON.stringify(config.baseModel)}`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function envInt(problems: string[], env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw.trim())) {
    problems.push(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  return Number(raw.trim());
}

function envBool(problems: string[], env: Record<string, string | undefined>, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  problems.push(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
  return undefined;
}

/**
 * Reads ADMIN_TOKEN, WORKER_TOKEN, INFERENCE_TOKEN, LOCAL_MODE, MAX_JSON_BYTES, RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_MS, AUTH_FAILURE_LIMIT,
 * CLIENT_IP_HEADER,
 * PUBLIC_BASE_URL, INFERENCE_URL, BASE_MODEL, MAX_JOB_ATTEMPTS, JOB_STALL_SECONDS, JOB_MAX_SECONDS, RETENTION_DAYS, ORPHAN_GRACE_HOURS,
 * MAX_WEBHOOK_ENDPOINTS, QUOTA_DATASETS, QUOTA_IMAGES, QUOTA_BYTES,
 * QUOTA_CONCURRENT_JOBS. `overrides` win.
 */
export function configFromEnv(env: Record<string, string | undefined>, overrides: Partial<EdgeConfigInput> = {}): EdgeConfig {
  const problems: string[] = [];
  const pick = <T extends object>(o: T): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const input: EdgeConfigInput = {
    adminToken: env.ADMIN_TOKEN ?? '',
    workerToken: env.WORKER_TOKEN ?? '',
    inferenceToken: env.INFERENCE_TOKEN || undefined,
    metricsToken: env.METRICS_TOKEN || undefined,
    localMode: envBool(problems, env, 'LOCAL_MODE'),
    maxJsonBytes: envInt(problems, env, 'MAX_JSON_BYTES'),
    publicBaseUrl: env.PUBLIC_BASE_URL || undefined,
    inferenceUrl: env.INFERENCE_URL || undefined,
    baseModel: env.BASE_MODEL || undefined,
    maxJobAttempts: envInt(problems, env, 'MAX_JOB_ATTEMPTS'),
    jobStallSeconds: envInt(problems, env, 'JOB_STALL_SECONDS'),
    jobMaxSeconds: envInt(problems, env, 'JOB_MAX_SECONDS'),
    retentionDays: envInt(problems, env, 'RETENTION_DAYS'),
    orphanGraceHours: envInt(problems, env, 'ORPHAN_GRACE_HOURS'),
    maxWebhookEndpoints: envInt(problems, env, 'MAX_WEBHOOK_ENDPOINTS'),
    rateLimit: pick({
      requestsPerWindow: envInt(problems, env, 'RATE_LIMIT_REQUESTS'),
      windowMs: envInt(problems, env, 'RATE_LIMIT_WINDOW_MS'),
      authFailuresPerWindow: envInt(problems, env, 'AUTH_FAILURE_LIMIT'),
      clientIpHeader: env.CLIENT_IP_HEADER?.trim() || undefined,
    }),
    quotas: pick({
      datasets: envInt(problems, env, 'QUOTA_DATASETS'),
      images: envInt(problems, env, 'QUOTA_IMAGES'),
      bytes: envInt(problems, env, 'QUOTA_BYTES'),
      concurrent_jobs: envInt(problems, env, 'QUOTA_CONCURRENT_JOBS'),
    }),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  const merged = { ...pick(input), ...pick(overrides) } as EdgeConfigInput;
  merged.rateLimit = { ...input.rateLimit, ...overrides.rateLimit };
  merged.quotas = { ...input.quotas, ...overrides.quotas };
  return resolveConfig(merged);
}
