// Evaluations: POST /v1/evaluations, GET /v1/evaluations[/{id}]. An evaluation scores a model (or zero-shot CLIP)
// on a ready dataset: accuracy, zero-shot accuracy, per class and the confusion matrix. It is queued like a training
// job and run by the worker pool under the same leases (edge/evaluations/queue.ts); webhooks evaluation.succeeded /
// evaluation.failed. Statuses: queued → running → succeeded | failed.
import { createRoute, z } from '@hono/zod-openapi';
import { Evaluation, ZERO_SHOT_MODEL } from '../../shared/contracts/evaluation.ts';
import { enqueueEvaluation } from '../evaluations/queue.ts';
import { listEvaluations, requireTenantEvaluation } from '../evaluations/records.ts';
import { requireTenant, tenantIdOf } from '../http/auth.ts';
import { idempotencyCommit, idempotent } from '../http/idempotency.ts';
import { IdempotencyHeaders, JSON_BODY_ERRORS, SECURITY, V1_ERRORS, errorResponses, jsonBody, jsonResponse, newRouter } from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { MAX_LABELS, MAX_LABEL_CHARS } from '../inference/classify.ts';

const CreateEvaluationRequest = z
  .strictObject({
    model: z
      .string()
      .min(1)
      .max(128)
      .openapi({ description: `A model id of your tenant, or "${ZERO_SHOT_MODEL}" for CLIP without an adapter.`, example: 'mdl_0m3k9x2qa4f7hz81kd0p3q' }),
    dataset_id: z.string().min(1).max(128).openapi({ description: 'A ready dataset of your tenant: its images and labels are the test set.', example: 'ds_0m3k9x2qa4f7hz81kd0p3q' }),
    labels: z
      .array(z.string().max(MAX_LABEL_CHARS))
      .min(1)
      .max(MAX_LABELS)
      .optional()
      .openapi({
        description:
          "The label list to classify against (default: the dataset's classes). Must contain every class of the dataset; " +
          'more labels (distractors, classes never trained on) make the task harder.',
        example: ['cat', 'dog', 'fox'],
      }),
  })
  .openapi('CreateEvaluationRequest');

const EvaluationParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The evaluation id (`eval_…`).', example: 'eval_0m3k9x2qa4f7hz81kd0p3q' }),
});

const tags = ['Evaluations'];

const createRoute_ = createRoute({
  method: 'post',
  path: '/v1/evaluations',
  operationId: 'createEvaluation',
  tags,
  summary: 'Create an evaluation',
  description:
    'Queues the scoring of a model (or zero-shot CLIP) on a ready dataset; a worker classifies every image with the model and with ' +
    'zero-shot CLIP and reports accuracy, per-class figures and the confusion matrix. 404 unknown model or dataset, 409 dataset not ready ' +
    'or the concurrent-jobs quota is used up (evaluations and training jobs count together), 422 labels that miss a class of the dataset.',
  security: SECURITY.tenant,
  middleware: [
    requireTenant,
    idempotent({
      // A retry whose first request committed the evaluation but never stored its answer gets the evaluation.
      atomic: { replay: async (c, id) => ({ status: 202, body: await requireTenantEvaluation(c.var.ports.db, tenantIdOf(c), id) }) },
    }),
  ] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateEvaluationRequest) },
  responses: { 202: jsonResponse(Evaluation, 'The queued evaluation.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 404, 409) },
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/evaluations/{id}',
  operationId: 'getEvaluation',
  tags,
  summary: 'Get an evaluation',
  description: 'The evaluation with its status and, when succeeded, `result`: accuracy, zero-shot accuracy, per-class figures and the confusion matrix.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: EvaluationParams },
  responses: { 200: jsonResponse(Evaluation, 'The evaluation.'), ...errorResponses(...V1_ERRORS, 404) },
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/evaluations',
  operationId: 'listEvaluations',
  tags,
  summary: 'List evaluations',
  description: 'Newest first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(pageSchema(Evaluation, 'EvaluationList'), 'A page of evaluations.'), ...errorResponses(...V1_ERRORS, 422) },
});

export function evaluationRoutes() {
  const app = newRouter();

  app.openapi(createRoute_, async (c) => {
    const body = c.req.valid('json');
    const evaluation = await enqueueEvaluation(
      c.var.ports.db,
      {
        tenantId: c.var.tenant.tenantId,
        model: body.model,
        datasetId: body.dataset_id,
        labels: body.labels,
        maxConcurrent: c.var.config.quotas.concurrent_jobs,
      },
      idempotencyCommit(c, (id: string) => ({ status: 202, resourceId: id })),
    );
    return c.json(evaluation, 202);
  });

  app.openapi(getRoute, async (c) => c.json(await requireTenantEvaluation(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id), 200));

  app.openapi(listRoute, async (c) => c.json(await listEvaluations(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));

  return app;
}
