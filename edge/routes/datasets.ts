// Datasets: POST /v1/datasets, GET /v1/datasets, GET /v1/datasets/{id}, DELETE /v1/datasets/{id}.
// Images come in through dataset-images.ts (multipart) or dataset-uploads.ts (presigned PUTs to S3);
// dataset-finalize.ts makes a dataset ready (then immutable). The SQL and rules are in edge/datasets/.
//
// Every query filters on the caller's tenant: another tenant's dataset or image id is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import { createDataset, deleteDataset, getDataset, listDatasets } from '../datasets/datasets.ts';
import { MAX_CLASSES, MAX_LABEL_LENGTH } from '../datasets/limits.ts';
import { requireTenant } from '../http/auth.ts';
import { STORED_WITH_KEY, idempotencyCommit, idempotent } from '../http/idempotency.ts';
import {
  IdempotencyHeaders,
  JSON_BODY_ERRORS,
  SECURITY,
  V1_ERRORS,
  errorResponses,
  jsonBody,
  jsonResponse,
  newRouter,
} from '../http/openapi.ts';
import { PaginationQuery, pageSchema } from '../http/pagination.ts';
import { PLAIN_TEXT_RULE, isPlainText } from '../http/text.ts';
import { Dataset, DatasetParams, distinct, tags } from './dataset-schemas.ts';

// ---- schemas --------------------------------------------------------------------------------

const ClassName = z.string().trim().min(1).max(MAX_LABEL_LENGTH).refine(isPlainText, PLAIN_TEXT_RULE);

const CreateDatasetRequest = z
  .strictObject({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(isPlainText, PLAIN_TEXT_RULE)
      .openapi({ description: 'Display name.', example: 'Dog breeds' }),
    classes: distinct(z.array(ClassName).max(MAX_CLASSES), 'class')
      .optional()
      .openapi({
        description: `Optional class names (distinct, 1..${MAX_LABEL_LENGTH} characters, at most ${MAX_CLASSES}). When given, image labels must be one of them and finalize requires images for each.`,
        example: ['beagle', 'golden retriever'],
      }),
  })
  .openapi('CreateDatasetRequest');

const DatasetList = pageSchema(Dataset, 'DatasetList');

// ---- routes ---------------------------------------------------------------------------------

const createDatasetRoute = createRoute({
  method: 'post',
  path: '/v1/datasets',
  operationId: 'createDataset',
  tags,
  summary: 'Create a dataset',
  description: 'An open dataset. Over the datasets quota: 409 conflict.',
  security: SECURITY.tenant,
  middleware: [requireTenant, idempotent({ atomic: STORED_WITH_KEY })] as const,
  request: { headers: IdempotencyHeaders, body: jsonBody(CreateDatasetRequest) },
  responses: { 201: jsonResponse(Dataset, 'The new dataset.'), ...errorResponses(...V1_ERRORS, ...JSON_BODY_ERRORS, 409) },
});

const listDatasetsRoute = createRoute({
  method: 'get',
  path: '/v1/datasets',
  operationId: 'listDatasets',
  tags,
  summary: 'List datasets',
  description: 'Newest first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(DatasetList, 'A page of datasets.'), ...errorResponses(...V1_ERRORS, 422) },
});

const getDatasetRoute = createRoute({
  method: 'get',
  path: '/v1/datasets/{id}',
  operationId: 'getDataset',
  tags,
  summary: 'Get a dataset',
  description: 'The dataset with its status, image count, and its classes with their stored image counts.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams },
  responses: { 200: jsonResponse(Dataset, 'The dataset.'), ...errorResponses(...V1_ERRORS, 404) },
});

const deleteDatasetRoute = createRoute({
  method: 'delete',
  path: '/v1/datasets/{id}',
  operationId: 'deleteDataset',
  tags,
  summary: 'Delete a dataset',
  description:
    'Removes the dataset, its image rows and its image objects in S3. 409 conflict while a training job of it is queued, running or cancelling.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: DatasetParams },
  responses: { 204: { description: 'Deleted.' }, ...errorResponses(...V1_ERRORS, 404, 409) },
});

// ---- handlers -------------------------------------------------------------------------------

export function datasetRoutes() {
  const app = newRouter();

  app.openapi(createDatasetRoute, async (c) => {
    const { name, classes = [] } = c.req.valid('json');
    const view = await createDataset(
      c.var.ports.db,
      { tenantId: c.var.tenant.tenantId, name, classes, maxDatasets: c.var.config.quotas.datasets },
      idempotencyCommit(c, (v: { id: string }) => ({ status: 201, resourceId: v.id, body: v })),
    );
    return c.json(view, 201);
  });

  app.openapi(listDatasetsRoute, async (c) => c.json(await listDatasets(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('query')), 200));

  app.openapi(getDatasetRoute, async (c) => c.json(await getDataset(c.var.ports.db, c.var.tenant.tenantId, c.req.valid('param').id), 200));

  app.openapi(deleteDatasetRoute, async (c) => {
    await deleteDataset(c.var.ports.db, c.var.ports.blobs, c.var.tenant.tenantId, c.req.valid('param').id);
    return c.body(null, 204);
  });

  return app;
}
