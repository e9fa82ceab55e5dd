// POST /v1/datasets/{id}/finalize: open → ready (then immutable), after checking the dataset can be
// trained on (edge/datasets/datasets.ts finalizeDataset).
import { createRoute } from '@hono/zod-openapi';
import { finalizeDataset } from '../datasets/datasets.ts';
import { requireTenant } from '../http/auth.ts';
import { SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { Dataset, DatasetParams, tags } from './dataset-schemas.ts';

const finalizeDatasetRoute = createRoute({
  method: 'post',
  path: '/v1/datasets/{id}/finalize',
  operationId: 'finalizeDataset',
  tags,
  summary: 'Finalize a dataset',
  description:
    'Drops unfinished presigned uploads, then makes the dataset ready (immutable). 422 with the reasons when it has no images, ' +
    'a declared class has no images, or fewer than 2 classes have images; 409 when already ready.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams },
  responses: { 200: jsonResponse(Dataset, 'The ready dataset.'), ...errorResponses(...V1_ERRORS, 404, 409, 422) },
});

export function datasetFinalizeRoutes() {
  const app = newRouter();

  app.openapi(finalizeDatasetRoute, async (c) => {
    const view = await finalizeDataset(c.var.ports.db, c.var.ports.blobs, c.var.tenant.tenantId, c.req.valid('param').id, c.var.config.logger);
    return c.json(view, 200);
  });

  return app;
}
