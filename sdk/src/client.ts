// The client: `new CoCoOp({ baseURL, apiKey })`, one property per API resource. Options not given come from the
// environment (COCOOP_BASE_URL, COCOOP_API_KEY) where there is one (Node's process.env; on Workers pass them).
import { type Fetch, HttpClient, type APIRequest, type RequestOptions, type Sleep } from './core/http.ts';
import { type ClassifyBatchParams, type ClassifyBatchResponse, type ClassifyOneParams, type ClassifyOneResponse, Embeddings, classify } from './resources/classify.ts';
import { Datasets } from './resources/datasets.ts';
import { Evaluations } from './resources/evaluations.ts';
import { Models } from './resources/models.ts';
import { ApiKeys, AuditEvents, Tenant } from './resources/tenant.ts';
import { TrainingJobs } from './resources/training-jobs.ts';
import { Usage } from './resources/usage.ts';
import { WebhookEndpoints } from './resources/webhook-endpoints.ts';
import { Webhooks } from './webhooks.ts';

export interface ClientOptions {
  /** The API's base URL, e.g. https://api.example.com or http://127.0.0.1:8787 (default: COCOOP_BASE_URL). */
  baseURL?: string;
  /** A tenant API key (default: COCOOP_API_KEY). */
  apiKey?: string;
  /** Retries after a failed attempt (429, 5xx, connection errors, timeouts); default 2. */
  maxRetries?: number;
  /** Milliseconds each attempt may take, reading the answer included; default 60 000. */
  timeout?: number;
  /** The fetch to use (default: the global fetch). */
  fetch?: Fetch;
  /** Headers sent with every API request. */
  defaultHeaders?: Record<string, string>;
  /**
   * How the client waits between retries and between polls of wait() (default: setTimeout). Tests and schedulers
   * inject their own, e.g. to record the waits.
   */
  sleep?: Sleep;
}

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

export class CoCoOp {
  readonly datasets: Datasets;
  readonly trainingJobs: TrainingJobs;
  readonly models: Models;
  readonly evaluations: Evaluations;
  readonly embeddings: Embeddings;
  readonly webhookEndpoints: WebhookEndpoints;
  readonly webhooks: Webhooks;
  readonly tenant: Tenant;
  readonly apiKeys: ApiKeys;
  readonly usage: Usage;
  readonly auditEvents: AuditEvents;
  /** The request engine the resources share (for calls of routes this SDK has no method for: see request()). */
  protected readonly http: HttpClient;

  constructor(options: ClientOptions = {}) {
    this.http = new HttpClient({
      ...options,
      baseURL: options.baseURL ?? env('COCOOP_BASE_URL') ?? '',
      apiKey: options.apiKey ?? env('COCOOP_API_KEY') ?? '',
    });
    this.datasets = this.createDatasets(this.http);
    this.trainingJobs = new TrainingJobs(this.http);
    this.models = new Models(this.http);
    this.evaluations = new Evaluations(this.http);
    this.embeddings = new Embeddings(this.http);
    this.webhookEndpoints = new WebhookEndpoints(this.http);
    this.webhooks = new Webhooks();
    this.tenant = new Tenant(this.http);
    this.apiKeys = new ApiKeys(this.http);
    this.usage = new Usage(this.http);
    this.auditEvents = new AuditEvents(this.http);
  }

  /** The datasets resource of this client (the Node client adds uploadFolder). */
  protected createDatasets(http: HttpClient): Datasets {
    return new Datasets(http);
  }

  get baseURL(): string {
    return this.http.baseURL;
  }

  /** POST /v1/classify with one image (`image`) or a batch (`images`); images as bytes or base64. */
  classify(params: ClassifyOneParams, options?: RequestOptions): Promise<ClassifyOneResponse>;
  classify(params: ClassifyBatchParams, options?: RequestOptions): Promise<ClassifyBatchResponse>;
  classify(params: ClassifyOneParams | ClassifyBatchParams, options?: RequestOptions): Promise<ClassifyOneResponse | ClassifyBatchResponse> {
    return classify(this.http, params, options);
  }

  /** Any API route, with the client's auth, retries and errors: e.g. `request({ method: 'GET', path: '/v1/audit-events' })`. */
  request<T = unknown>(req: Omit<APIRequest, 'external'>, options?: RequestOptions): Promise<T> {
    return this.http.request<T>(req, options);
  }
}
