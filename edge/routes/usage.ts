// Billable usage: GET /v1/usage (tenant key): per UTC day of a range, the meters edge/usage/ records — classify
// requests and images, embedded texts, seconds of training jobs and evaluations by method, the storage snapshot —
// and their totals. The rules and SQL are in edge/usage/report.ts.
import { createRoute, z } from '@hono/zod-openapi';
import { requireTenant } from '../http/auth.ts';
import { SECURITY, V1_ERRORS, errorResponses, jsonResponse, newRouter } from '../http/openapi.ts';
import { MAX_USAGE_DAYS, usageRange, usageReport } from '../usage/report.ts';

const DateParam = (name: 'from' | 'to', description: string, example: string) =>
  z.string().max(40).optional().openapi({ param: { name, in: 'query' }, description, example });

const UsageQuery = z.object({
  from: DateParam('from', 'First day (YYYY-MM-DD, UTC), included. Default: the first day of `to`’s month.', '2025-01-01'),
  to: DateParam('to', `Last day (YYYY-MM-DD, UTC), included. Default: today. At most ${MAX_USAGE_DAYS} days from \`from\`.`, '2025-01-31'),
  granularity: z
    .enum(['day'])
    .default('day')
    .openapi({ param: { name: 'granularity', in: 'query' }, description: 'Bucket size; `day` (UTC days) is the one offered.', example: 'day' }),
});

const seconds = (what: string) => z.number().openapi({ description: `${what} (to the millisecond).` });
const TrainingSeconds = z
  .object({ cocoop: seconds('CoCoOp'), coop: seconds('CoOp') })
  .openapi('TrainingSeconds', { description: 'Running time of training jobs that ended (succeeded, failed, or cancelled after they started), by method.' });
const EvaluationSeconds = z
  .object({ cocoop: seconds('CoCoOp models'), coop: seconds('CoOp models'), 'zero-shot': seconds('Zero-shot CLIP') })
  .openapi('EvaluationSeconds', { description: 'Running time of evaluations that ended, by the evaluated model’s method.' });

const MeterFields = {
  classify_requests: z.number().int().openapi({ description: 'Successful POST /v1/classify calls.' }),
  classify_images: z.number().int().openapi({ description: 'Images those calls classified.' }),
  embedding_texts: z.number().int().openapi({ description: 'Texts of successful POST /v1/embeddings/text calls (those served from the cache included).' }),
  training_seconds: TrainingSeconds,
  evaluation_seconds: EvaluationSeconds,
};

const UsageDay = z
  .object({
    date: z.string().openapi({ example: '2025-01-31' }),
    ...MeterFields,
    storage_bytes: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Bytes stored (images and model artifacts) at the day’s snapshot, taken early in the day; null: no snapshot that day.' }),
  })
  .openapi('UsageDay', { description: 'One UTC day. Jobs and evaluations count on the day they ended.' });

const UsageReport = z
  .object({
    from: z.string().openapi({ example: '2025-01-01' }),
    to: z.string().openapi({ example: '2025-01-31' }),
    granularity: z.enum(['day']),
    data: z.array(UsageDay).openapi({ description: 'Every day of the range, oldest first, zeros included.' }),
    totals: z
      .object({
        ...MeterFields,
        storage_byte_days: z.number().int().openapi({ description: 'The sum of the days’ storage snapshots (each one day long).' }),
      })
      .openapi({ description: 'The sums over the range.' }),
  })
  .openapi('UsageReport');

const getUsageRoute = createRoute({
  method: 'get',
  path: '/v1/usage',
  operationId: 'getUsage',
  tags: ['Usage'],
  summary: 'Billable usage per day',
  description:
    'What the tenant used, per UTC day from `from` to `to`: classify requests and images, embedded texts, seconds of training and ' +
    'evaluation by method, and the storage snapshot; plus the totals. A call is counted once its success is answered; a job or ' +
    'evaluation once it ended. A date that is not YYYY-MM-DD, `from` after `to`, or a range over ' +
    `${MAX_USAGE_DAYS} days is 422 (param \`from\` or \`to\`).`,
  security: SECURITY.tenant,
  middleware: [requireTenant] as const,
  request: { query: UsageQuery },
  responses: {
    200: jsonResponse(UsageReport, 'The usage per day and the totals.'),
    ...errorResponses(...V1_ERRORS, 422),
  },
});

export function usageRoutes() {
  const app = newRouter();
  app.openapi(getUsageRoute, async (c) => {
    const range = usageRange(c.req.valid('query'));
    return c.json(await usageReport(c.var.ports.db, c.var.tenant.tenantId, range), 200);
  });
  return app;
}
