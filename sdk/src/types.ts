// Names for the API's request and response shapes. Every one is taken from the types generated from the API's own
// OpenAPI document (generated/openapi.ts, `npm run sdk:generate`), so they follow the server.
import type { components, operations } from './generated/openapi.ts';

type Schemas = components['schemas'];

export type ErrorBody = Schemas['Error'];

export type Me = Schemas['Me'];
export type Quotas = Schemas['Quotas'];
export type Usage = Schemas['Usage'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type ApiKeyCreateParams = Schemas['CreateApiKeyRequest'];

export type Dataset = Schemas['Dataset'];
export type DatasetCreateParams = Schemas['CreateDatasetRequest'];
export type Image = Schemas['Image'];
export type ImageContentType = Schemas['CreateUploadsRequest']['files'][number]['content_type'];
export type PresignedUpload = Schemas['Uploads']['uploads'][number];

export type TrainingJob = Schemas['TrainingJob'];
export type TrainingJobStatus = TrainingJob['status'];
export type TrainingJobCreateParams = Schemas['CreateTrainingJobRequest'];
export type Hyperparameters = Schemas['Hyperparameters'];
export type HyperparametersInput = Schemas['HyperparametersInput'];
export type TrainingJobEvent = Schemas['TrainingJobEvent'];
export type Scores = NonNullable<Schemas['Scores']>;

export type Model = Schemas['Model'];

export type Evaluation = Schemas['Evaluation'];
export type EvaluationStatus = Evaluation['status'];
export type EvaluationCreateParams = Schemas['CreateEvaluationRequest'];

export type ClassifyRequest = Schemas['ClassifyRequest'];
export type ClassifyResponse = Schemas['ClassifyResponse'];
export type Prediction = NonNullable<ClassifyResponse['predictions']>[number];
export type TextEmbeddings = Schemas['TextEmbeddings'];
export type TextEmbeddingsParams = Schemas['TextEmbeddingsRequest'];

export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type WebhookEndpointCreated = Schemas['WebhookEndpointCreated'];
export type WebhookEndpointCreateParams = Schemas['CreateWebhookEndpointRequest'];
export type WebhookEndpointUpdateParams = Schemas['UpdateWebhookEndpointRequest'];
export type WebhookEventType = WebhookEndpoint['events'][number];
export type WebhookSecretRotated = Schemas['WebhookSecretRotated'];
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type WebhookAttempt = Schemas['WebhookAttempt'];
export type WebhookDeliveryListParams = NonNullable<operations['listWebhookDeliveries']['parameters']['query']>;

export type UsageReport = Schemas['UsageReport'];
export type UsageDay = Schemas['UsageDay'];
export type UsageParams = NonNullable<operations['getUsage']['parameters']['query']>;

export type AuditEvent = Schemas['AuditEvent'];
