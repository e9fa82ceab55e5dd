// Published adapters: GET /v1/models, GET /v1/models/{id}, GET /v1/models/{id}/artifact, DELETE /v1/models/{id}.
// A model is created by a worker completing its training job (edge/routes/trainer-api.ts).
import { createRoute, z } from '@hono/zod-openapi';
import { requireTenant } from '../http/auth.ts';
import { notFound } from '../http/errors.ts';
import { SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { PaginationQuery, listPage, pageSchema } from '../http/pagination.ts';
import type { SqlDatabase } from '../ports.ts';

interface ModelRow {
  id: string;
  tenant_id: string;
  job_id: string;
  method: string;
  base_model: string;
  classes: string;
  metrics: string;
  artifact_key: string;
  artifact_bytes: number;
  artifact_sha256: string;
  created_at: string;
}

const ModelSchema = z
  .object({
    id: z.string().openapi({ example: 'mdl_0m3k9x2qa4f7hz81kd0p3q' }),
    job_id: z.string(),
    method: z.enum(['cocoop', 'coop']),
    base_model: z.string().openapi({ description: 'The CLIP model the adapter was trained on.' }),
    classes: z.array(z.string()).openapi({ description: 'The training classes (the default labels of classification).' }),
    metrics: z.record(z.string(), z.number()),
    artifact: z.object({ bytes: z.number().int(), sha256: z.string() }),
    created_at: z.string(),
  })
  .openapi('Model');

const ModelParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'mdl_0m3k9x2qa4f7hz81kd0p3q' }),
});

const tags = ['Models'];

const listModels = createRoute({
  method: 'get',
  path: '/v1/models',
  tags,
  summary: 'List models',
  description: 'Newest training job first.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: PaginationQuery },
  responses: { 200: jsonResponse(pageSchema(ModelSchema, 'ModelList'), 'A page of models.'), ...errorResponses(...V1_ERRORS, 422) },
});

const getModel = createRoute({
  method: 'get',
  path: '/v1/models/{id}',
  tags,
  summary: 'Get a model',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: ModelParams },
  responses: { 200: jsonResponse(ModelSchema, 'The model.'), ...errorResponses(...V1_ERRORS, 404) },
});

const getArtifact = createRoute({
  method: 'get',
  path: '/v1/models/{id}/artifact',
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

const deleteModel = createRoute({
  method: 'delete',
  path: '/v1/models/{id}',
  tags,
  summary: 'Delete a model',
  description: 'Deletes the model and its stored artifact.',
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { params: ModelParams },
  responses: { 204: { description: 'Deleted.' }, ...errorResponses(...V1_ERRORS, 404) },
});

function quoteId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}

const noModel = (id: string) => notFound(`No model with id ${quoteId(id)} in your tenant.`, 'id');

function modelObject(row: ModelRow) {
  return {
    id: row.id,
    job_id: row.job_id,
    method: row.method as 'cocoop' | 'coop',
    base_model: row.base_model,
    classes: JSON.parse(row.classes) as string[],
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    artifact: { bytes: row.artifact_bytes, sha256: row.artifact_sha256 },
    created_at: row.created_at,
  };
}

function tenantModel(db: SqlDatabase, tenantId: string, id: string): Promise<ModelRow | null> {
  return db.prepare('SELECT * FROM models WHERE id = ? AND tenant_id = ?').bind(id, tenantId).first<ModelRow>();
}

export function modelRoutes() {
  const app = newRouter();

  app.openapi(listModels, async (c) => {
    const page = await listPage<ModelRow>(
      c.var.ports.db,
      { from: 'models', where: 'tenant_id = ?', binds: [c.var.tenant.tenantId], order: 'desc' },
      c.req.valid('query'),
    );
    return c.json({ data: page.data.map(modelObject), has_more: page.has_more }, 200);
  });

  app.openapi(getModel, async (c) => {
    const { id } = c.req.valid('param');
    const row = await tenantModel(c.var.ports.db, c.var.tenant.tenantId, id);
    if (!row) throw noModel(id);
    return c.json(modelObject(row), 200);
  });

  app.openapi(getArtifact, async (c) => {
    const { id } = c.req.valid('param');
    const row = await tenantModel(c.var.ports.db, c.var.tenant.tenantId, id);
    if (!row) throw noModel(id);
    const bytes = await c.var.ports.blobs.get(row.artifact_key);
    if (!bytes) throw notFound(`The artifact of model ${row.id} is no longer stored.`, 'id');
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(bytes.byteLength),
      'Content-Disposition': `attachment; filename="${row.id}.safetensors"`,
    });
  });

  app.openapi(deleteModel, async (c) => {
    const { id } = c.req.valid('param');
    const { db, blobs } = c.var.ports;
    const { tenantId } = c.var.tenant;
    const row = await tenantModel(db, tenantId, id);
    if (!row) throw noModel(id);
    const { changes } = await db.prepare('DELETE FROM models WHERE id = ? AND tenant_id = ?').bind(id, tenantId).run();
    if (changes === 0) throw noModel(id);
    await blobs.delete([row.artifact_key]);
    return c.body(null, 204);
  });

  return app;
}
