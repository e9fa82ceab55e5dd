// @cocoop/sdk: the TypeScript client of the CoCoOp API. Runs wherever fetch does (Node 20+, Cloudflare Workers, Deno,
// Bun, browsers); the folder upload, which reads the disk, is in '@cocoop/sdk/node'.
export { CoCoOp, CoCoOp as default, type ClientOptions } from './client.ts';
export {
  APIConnectionError,
  APIError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  CoCoOpError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UnprocessableEntityError,
  type ErrorCode,
} from './core/errors.ts';
export { DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS, type APIRequest, type Fetch, type RequestOptions, type Sleep } from './core/http.ts';
export { CursorList, CursorPage, type PageParams } from './core/pagination.ts';
export { type RetryPolicy } from './core/retry.ts';
export type { ClassifyBatchParams, ClassifyBatchResponse, ClassifyOneParams, ClassifyOneResponse, ImageInput } from './resources/classify.ts';
export { Datasets } from './resources/datasets.ts';
export { Evaluations, FINAL_EVALUATION_STATUSES } from './resources/evaluations.ts';
export { Models } from './resources/models.ts';
export { ApiKeys, AuditEvents, Tenant } from './resources/tenant.ts';
export { FINAL_TRAINING_JOB_STATUSES, TrainingJobs, type WaitOptions } from './resources/training-jobs.ts';
export { Usage } from './resources/usage.ts';
export { WebhookEndpoints } from './resources/webhook-endpoints.ts';
export { MAX_FILES_PER_UPLOAD_BATCH, UploadError, type UploadFile, type UploadOptions, type UploadProgress, type UploadResult } from './uploads.ts';
export { WebhookVerificationError, Webhooks, verifyWebhook, type TrainingJobWebhookData, type WebhookEvent, type WebhookHeaders } from './webhooks.ts';
export type * from './types.ts';
