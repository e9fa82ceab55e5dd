// Published adapters: GET /v1/models, GET /v1/models/{id}, GET /v1/models/{id}/artifact, DELETE /v1/models/{id}.
// A model is created by a worker completing its training job (edge/jobs/queue.ts completeJob); the SQL and
// rules are in edge/models/models.ts.
import { createRoute, z } from '@hono/zod-openapi';
import { Scores } from '../../shared/contracts/evaluation.ts';
import { requireTenant } from '../http/auth.ts';
import { SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { deleteModel, listModels, modelArtifact, modelObject, requireTenantModel } from '../models/models.ts';

const ModelSchema = z
  .object({
    id: z.string().openapi({ example: 'mdl_0m3k9x2qa4f7hz81kd0p3q' }),
    job_id: z.string(),
    method: z.enum(['cocoop', 'coop']),
    base_model: z.string().openapi({ description: 'The CLIP model the adapter was trained on.' }),
    classes: z.array(z.string()).openapi({ description: 'The training classes (the default labels of classification).' }),
    metrics: z
      .object({
        validation: Scores.nullable().openapi({ description: "The training job's validation block (as its result.validation); null when nothing was held out." }),
      })
      .catchall(z.number())
      .openapi({ description: 'train_loss, train_accuracy, val_accuracy, … of the training job, and its validation block.' }),
    artifact: z.object({ bytes: z.number().int(), sha256: z.string() }),
    created_at: z.string(),
  })
  .openapi('Model');

const ModelParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, description: 'The model id (`mdl_…`).', example: 'mdl_0m3k9x2qa4f7hz81kd0p3q' }),
});

const tags = ['Models'];

const listModelsRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  tags,
  summary: 'List models',
  description: 'Newest training job first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(pageSchema(ModelSchema, 'ModelList'), 'A page of models.'), ...errorResponses(...V1_ERRORS, 422) },
});

const getModelRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}',
  operationId: 'getModel',
  tags,
  summary: 'Get a model',
  description: "The model: its method, labels, the job that trained it, the adapter's size and sha256, and its validation figures in `metrics`.",
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: ModelParams },
  responses: { 200: jsonResponse(ModelSchema, 'The model.'), ...errorResponses(...V1_ERRORS, 404) },
});

const getArtifactRoute = createRoute({
  method: 'get',
  path: '/v1/models/{id}/artifact',
  operationId: 'downloadModelArtifact',
  tags,
  summary: 'Download the adapter',
  description: 'The adapter safetensors file.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: ModelParams },
  responses: {
    200: { description: 'The file.', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    ...errorResponses(...V1_ERRORS, 404),
  },
});

const deleteModelRoute = createRoute({
  method: 'delete',
  path: '/v1/models/{id}',
  operationId: 'deleteModel',
  tags,
  summary: 'Delete a model',
  description: 'Deletes the model and its stored artifact.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: ModelParams },
  responses: { 204: { description: 'Deleted.' }, ...errorResponses(...V1_ERRORS, 404) },
});

export function modelRoutes() {
  const app = newRouter();

  app.openapi(listModelsRoute, async (c) => c.json(await listModels(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));

  app.openapi(getModelRoute, async (c) => {
    const row = await requireTenantModel(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.json(modelObject(row), 200);
  });

  app.openapi(getArtifactRoute, async (c) => {
    const { row, bytes } = await modelArtifact(c.var.ports.db, c.var.ports.blobs, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(bytes.byteLength),
      'Content-Disposition': `attachment; filename="${row.id}.safetensors"`,
    });
  });

  app.openapi(deleteModelRoute, async (c) => {
    await deleteModel(c.var.ports.db, c.var.ports.blobs, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.body(null, 204);
  });

  return app;
}
