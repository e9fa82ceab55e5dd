// The internal worker API (worker token only), under /internal/v1:
//   POST /internal/v1/leases                    take the oldest queued job (or one whose lease expired)
//   POST /internal/v1/jobs/{id}/heartbeat       extend the lease, report progress; answers cancel_requested
//   POST /internal/v1/jobs/{id}/events          append an event to the job's log
//   POST /internal/v1/jobs/{id}/complete        publish the model: job succeeded + model row + webhooks, one batch
//   POST /internal/v1/jobs/{id}/result          an evaluation's figures: evaluation succeeded + webhooks, one batch
//   POST /internal/v1/jobs/{id}/fail            job failed (+ webhooks)
//   POST /internal/v1/jobs/{id}/cancelled       the worker stopped after a cancel request (+ webhooks)
// Every call after the lease names its lease_id; a lease that is no longer the job's current one is 409,
// so a worker whose lease expired (and whose job another worker resumed) can never finish the job.
// A per-worker token (POST /v1/workers) leases as its worker (the lease's lease_worker is the token's id, whatever
// worker_id the body names) and may drive only leases it took: another worker's lease is 409 (param lease_id).
// The configured WORKER_TOKEN (bootstrap/legacy) leases under the body's worker_id and may drive any lease.
// A job gets at most config.maxJobAttempts leases: when its lease expires after the last one, the next
// lease request finishes it instead (failed with `too_many_attempts`, or cancelled when a cancel was pending).
//
// The request and response schemas are the shared contract (shared/contracts/worker-api.ts), which the
// trainer's client parses with too; the state changes are the job queue's (edge/jobs/queue.ts).
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { Evaluation } from '../../shared/contracts/evaluation.ts';
import { TrainingJob } from '../../shared/contracts/training-job.ts';
import {
  CancelledRequest,
  CompleteRequest,
  EventRequest,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  Lease,
  LeaseRequest,
  LeasedWork,
  ResultRequest,
} from '../../shared/contracts/worker-api.ts';
import { completeEvaluation } from '../evaluations/queue.ts';
import { requireWorker, workerOf } from '../http/auth.ts';
import type { AppEnv } from '../http/context.ts';
import { jsonBodyGuard } from '../http/json-body.ts';
import { SECURITY, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { heartbeat } from '../jobs/heartbeat.ts';
import { leaseNextJob } from '../jobs/lease.ts';
import { appendEvent, completeJob, failJob, markCancelled } from '../jobs/queue.ts';
import { requireOwnLease } from '../worker-tokens/worker-tokens.ts';

// ---- schemas --------------------------------------------------------------------------------

const JobParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The job id (`job_…`).', example: 'job_0m3k9x2qa4f7hz81kd0p3q' }),
});

// ---- routes ---------------------------------------------------------------------------------

const tags = ['Internal: workers'];
const ERRORS = [400, 401, 413, 415, 422, 500] as const;

const leaseRoute = createRoute({
  method: 'post',
  path: '/internal/v1/leases',
  operationId: 'leaseJob',
  tags,
  summary: 'Lease the next job',
  description:
    'Atomically takes the oldest queued job, or a running job whose lease expired (resumed: attempts + 1). 204 when there is none. ' +
    'A job whose lease expired after its last allowed attempt (MAX_JOB_ATTEMPTS) is not leased again: it fails with `too_many_attempts`.',
  security: SECURITY.worker,
  middleware: [requireWorker] as const,
  request: { body: jsonBody(LeaseRequest) },
  responses: { 200: jsonResponse(Lease, 'The leased job.'), 204: { description: 'Nothing to do.' }, ...errorResponses(...ERRORS) },
});

function jobRoute<S extends z.ZodType, R extends z.ZodType>(path: string, operationId: string, summary: string, body: S, response: R) {
  const description = `${summary}. The body names the lease (\`lease_id\`): a call under a lease that ended, or another worker's lease, is 409 and changes nothing.`;
  return createRoute({
    method: 'post',
    path: `/internal/v1/jobs/{id}/${path}`,
    operationId,
    tags,
    summary,
    description,
    security: SECURITY.worker,
    middleware: [requireWorker] as const,
    request: { params: JobParams, body: jsonBody(body) },
    responses: {
      200: jsonResponse(response, 'OK.'),
      ...errorResponses(...ERRORS, 404, 409),
    },
  });
}

const heartbeatRoute = jobRoute('heartbeat', 'heartbeatJob', 'Heartbeat: extend the lease, report progress', HeartbeatRequest, HeartbeatResponse);
const eventRoute = jobRoute('events', 'appendJobEvent', 'Append an event to the job log', EventRequest, LeasedWork);
const completeRoute = jobRoute('complete', 'completeJob', 'Publish the model; the job succeeded', CompleteRequest, TrainingJob);
const resultRoute = jobRoute('result', 'reportJobResult', "Report an evaluation's figures; the evaluation succeeded", ResultRequest, Evaluation);
const failRoute = jobRoute('fail', 'failJob', 'The job or evaluation failed', FailRequest, LeasedWork);
const cancelledRoute = jobRoute('cancelled', 'confirmJobCancelled', 'The worker stopped after a cancel request', CancelledRequest, TrainingJob);

// ---- handlers -------------------------------------------------------------------------------

export function workerRoutes() {
  const app = newRouter();
  // Outside /v1, so the app's authenticate and body guard do not run here: the worker token first,
  // then the same bounded JSON body reading.
  app.use('/internal/v1/*', requireWorker, jsonBodyGuard);
  // A per-worker token drives only its own leases (the configured token: any).
  app.use('/internal/v1/jobs/:id/*', async (c, next) => {
    const { workerId } = workerOf(c);
    if (workerId !== null) {
      const body = (await c.req.json().catch(() => null)) as { lease_id?: unknown } | null;
      const leaseId = body?.lease_id;
      if (typeof leaseId === 'string') await requireOwnLease(c.var.ports.db, { jobId: c.req.param('id') ?? '', leaseId, workerId });
    }
    await next();
  });

  app.openapi(leaseRoute, async (c) => {
    const { worker_id, lease_seconds, request_id } = c.req.valid('json');
    const workerId = workerOf(c as unknown as Context<AppEnv>).workerId ?? worker_id;
    const { maxJobAttempts: maxAttempts, clock } = c.var.config;
    const lease = await leaseNextJob(c.var.ports.db, { workerId, leaseSeconds: lease_seconds, maxAttempts, requestId: request_id, now: clock() });
    return lease ? c.json(lease, 200) : c.body(null, 204);
  });

  app.openapi(heartbeatRoute, async (c) => {
    const { lease_id, lease_seconds, progress, metrics } = c.req.valid('json');
    const jobId = c.req.valid('param').id;
    const { jobStallSeconds: stallSeconds, jobMaxSeconds: maxSeconds, clock } = c.var.config;
    const now = clock();
    return c.json(await heartbeat(c.var.ports.db, { jobId, leaseId: lease_id, leaseSeconds: lease_seconds, progress, metrics, stallSeconds, maxSeconds, now }), 200);
  });

  app.openapi(eventRoute, async (c) => {
    const { lease_id, ...event } = c.req.valid('json');
    return c.json(await appendEvent(c.var.ports.db, { jobId: c.req.valid('param').id, leaseId: lease_id, ...event }), 200);
  });

  app.openapi(completeRoute, async (c) => {
    const { lease_id, artifact, base_model, classes, metrics, train, validation } = c.req.valid('json');
    const { db, blobs } = c.var.ports;
    const job = await completeJob(db, blobs, { jobId: c.req.valid('param').id, leaseId: lease_id, artifact, baseModel: base_model, classes, metrics, train, validation });
    return c.json(job, 200);
  });

  app.openapi(resultRoute, async (c) => {
    const { lease_id, result } = c.req.valid('json');
    return c.json(await completeEvaluation(c.var.ports.db, { jobId: c.req.valid('param').id, leaseId: lease_id, result }), 200);
  });

  app.openapi(failRoute, async (c) => {
    const { lease_id, code, message } = c.req.valid('json');
    return c.json(await failJob(c.var.ports.db, { jobId: c.req.valid('param').id, leaseId: lease_id, code, message }), 200);
  });

  app.openapi(cancelledRoute, async (c) => {
    const { lease_id } = c.req.valid('json');
    return c.json(await markCancelled(c.var.ports.db, { jobId: c.req.valid('param').id, leaseId: lease_id }), 200);
  });

  return app;
}
