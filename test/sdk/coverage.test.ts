// Every operation a tenant's API key may call has an SDK method: the OpenAPI document's ApiKey operations against the
// table below. A new tenant route fails here until the SDK has a method for it (sdk/src/resources) and the table says
// which. Admin, worker, metrics and system routes are not the customer SDK's.
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../scripts/sdk-generate.ts';
import { CoCoOp } from '../../sdk/src/node/index.ts';

/** operationId → the client's method that calls it. */
const SDK_METHOD: Record<string, string> = {
  getMe: 'tenant.retrieve',
  createApiKey: 'apiKeys.create',
  listApiKeys: 'apiKeys.list',
  revokeApiKey: 'apiKeys.revoke',
  getUsage: 'usage.retrieve',
  listAuditEvents: 'auditEvents.list',
  createDataset: 'datasets.create',
  listDatasets: 'datasets.list',
  getDataset: 'datasets.retrieve',
  deleteDataset: 'datasets.delete',
  uploadDatasetImages: 'datasets.uploadImages',
  createDatasetUploads: 'datasets.createUploads',
  completeDatasetUploads: 'datasets.completeUploads',
  finalizeDataset: 'datasets.finalize',
  createTrainingJob: 'trainingJobs.create',
  listTrainingJobs: 'trainingJobs.list',
  getTrainingJob: 'trainingJobs.retrieve',
  cancelTrainingJob: 'trainingJobs.cancel',
  listTrainingJobEvents: 'trainingJobs.events',
  listModels: 'models.list',
  getModel: 'models.retrieve',
  deleteModel: 'models.delete',
  downloadModelArtifact: 'models.download',
  createEvaluation: 'evaluations.create',
  listEvaluations: 'evaluations.list',
  getEvaluation: 'evaluations.retrieve',
  classifyImages: 'classify',
  createTextEmbeddings: 'embeddings.create',
  createWebhookEndpoint: 'webhookEndpoints.create',
  listWebhookEndpoints: 'webhookEndpoints.list',
  getWebhookEndpoint: 'webhookEndpoints.retrieve',
  updateWebhookEndpoint: 'webhookEndpoints.update',
  deleteWebhookEndpoint: 'webhookEndpoints.delete',
  rotateWebhookEndpointSecret: 'webhookEndpoints.rotateSecret',
  listWebhookDeliveries: 'webhookEndpoints.deliveries',
  testWebhookEndpoint: 'webhookEndpoints.test',
  resendWebhookDelivery: 'webhookEndpoints.resendDelivery',
};

describe('SDK coverage of the API', () => {
  it('every operation open to a tenant API key has an SDK method, and every method in the table exists', async () => {
    const doc = (await openApiDocument()) as unknown as { paths: Record<string, Record<string, { operationId?: string; security?: Record<string, unknown>[] }>> };
    const tenantOps = Object.values(doc.paths)
      .flatMap((ops) => Object.values(ops))
      .filter((op) => op.security?.some((s) => 'ApiKey' in s))
      .map((op) => op.operationId!);
    expect(tenantOps.length).toBeGreaterThan(30);
    const missing = tenantOps.filter((id) => !(id in SDK_METHOD)).map((id) => `${id}: no SDK method (add one in sdk/src/resources and list it in test/sdk/coverage.test.ts)`);
    expect(missing).toEqual([]);
    expect(Object.keys(SDK_METHOD).filter((id) => !tenantOps.includes(id))).toEqual([]);

    const client = new CoCoOp({ baseURL: 'http://127.0.0.1:9', apiKey: 'k' }) as unknown as Record<string, unknown>;
    const absent = Object.values(SDK_METHOD).filter((method) => {
      const parts = method.split('.');
      const owner = parts.length === 1 ? client : (client[parts[0]!] as Record<string, unknown>);
      return typeof owner?.[parts.at(-1)!] !== 'function';
    });
    expect(absent).toEqual([]);
  });
});
