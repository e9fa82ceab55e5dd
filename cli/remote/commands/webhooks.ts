// `cocoop remote webhooks ...`: webhook endpoints (where the API sends signed events), their deliveries and secrets.
import type { WebhookDeliveryListParams, WebhookEndpointUpdateParams, WebhookEventType } from '../../../sdk/src/node/index.ts';
import { type OptionDef, UsageError, choiceOption, commandName, commaList, stringOption } from '../args.ts';
import type { RemoteCommand } from '../context.ts';
import { LIST_NOTE, LIST_OPTIONS, idArgument, listResult } from './shared.ts';

const ENDPOINT_ID = idArgument('ENDPOINT_ID', 'a webhook endpoint id (whe_…)');
const EVENTS_OPTION: OptionDef = {
  type: 'string',
  value: '"a,b"',
  multiple: true,
  help: 'event types, comma-separated or repeated: training_job.succeeded, training_job.failed, training_job.cancelled, training_job.started, evaluation.succeeded, evaluation.failed',
};
const SECRET_NOTE = 'The answer holds the signing secret (whsec_…), shown this once: keep it where your receiver can verify with it.';

function events(values: Parameters<typeof commaList>[0]): WebhookEventType[] {
  return commaList(values, 'events') as WebhookEventType[];
}

export const WEBHOOK_COMMANDS: RemoteCommand[] = [
  {
    spec: { words: ['webhooks', 'list'], summary: 'your webhook endpoints, newest first', options: LIST_OPTIONS, notes: [LIST_NOTE] },
    run: (ctx) => listResult(ctx, (p) => ctx.client().webhookEndpoints.list(p)),
  },
  {
    spec: { words: ['webhooks', 'get'], summary: 'one webhook endpoint', positionals: [ENDPOINT_ID], options: {} },
    run: (ctx) => ctx.client().webhookEndpoints.retrieve(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['webhooks', 'create'],
      summary: 'a new endpoint receiving signed POSTs (Standard Webhooks)',
      options: {
        url: { type: 'string', value: 'URL', required: true, help: 'the https URL receiving the POSTs' },
        events: { ...EVENTS_OPTION, default: 'training_job.succeeded,training_job.failed,training_job.cancelled' },
      },
      notes: [SECRET_NOTE],
    },
    async run(ctx) {
      const list = events(ctx.values);
      return ctx.client().webhookEndpoints.create({ url: stringOption(ctx.values, 'url')!, ...(list.length > 0 ? { events: list } : {}) });
    },
  },
  {
    spec: {
      words: ['webhooks', 'update'],
      summary: "changes an endpoint's URL or events, or disables / re-enables it",
      positionals: [ENDPOINT_ID],
      options: {
        url: { type: 'string', value: 'URL', help: 'a new URL (pending deliveries go to it)' },
        events: { ...EVENTS_OPTION, help: `${EVENTS_OPTION.help} (replaces the list)` },
        enable: { type: 'boolean', help: 're-enable the endpoint (also one its receiver disabled with 410 Gone)' },
        disable: { type: 'boolean', help: 'disable it: pending deliveries fail, events make none until it is enabled again' },
      },
    },
    async run(ctx) {
      const { values } = ctx;
      if (values.enable === true && values.disable === true) throw new UsageError(`${commandName(ctx.spec)}: --enable or --disable, not both`);
      const list = events(values);
      const url = stringOption(values, 'url');
      const params: WebhookEndpointUpdateParams = {
        ...(url !== undefined ? { url } : {}),
        ...(list.length > 0 ? { events: list } : {}),
        ...(values.enable === true ? { enabled: true } : values.disable === true ? { enabled: false } : {}),
      };
      if (Object.keys(params).length === 0) throw new UsageError(`${commandName(ctx.spec)}: nothing to change (give --url, --events, --enable or --disable)`);
      return ctx.client().webhookEndpoints.update(ctx.positionals[0]!, params);
    },
  },
  {
    spec: { words: ['webhooks', 'delete'], summary: 'deletes an endpoint', positionals: [ENDPOINT_ID], options: {}, notes: ['Output: {"id": ENDPOINT_ID, "deleted": true}'] },
    async run(ctx) {
      const id = ctx.positionals[0]!;
      await ctx.client().webhookEndpoints.delete(id);
      return { id, deleted: true };
    },
  },
  {
    spec: { words: ['webhooks', 'test'], summary: 'sends a signed webhook.test event to the endpoint (the new delivery, pending)', positionals: [ENDPOINT_ID], options: {} },
    run: (ctx) => ctx.client().webhookEndpoints.test(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['webhooks', 'deliveries'],
      summary: "an endpoint's deliveries, newest first, each with its attempts",
      positionals: [ENDPOINT_ID],
      options: { status: { type: 'string', value: 'pending|succeeded|failed', help: 'only deliveries in this status' }, ...LIST_OPTIONS },
      notes: [LIST_NOTE],
    },
    async run(ctx) {
      const status = choiceOption(ctx.values, 'status', ctx.spec, ['pending', 'succeeded', 'failed'] as const) as WebhookDeliveryListParams['status'];
      return listResult(ctx, (p) => ctx.client().webhookEndpoints.deliveries(ctx.positionals[0]!, { ...p, ...(status ? { status } : {}) }));
    },
  },
  {
    spec: {
      words: ['webhooks', 'resend'],
      summary: 'sends a delivery again (same webhook-id and payload, current secrets)',
      positionals: [idArgument('DELIVERY_ID', 'a delivery id (msg_…), from webhooks deliveries')],
      options: {},
    },
    run: (ctx) => ctx.client().webhookEndpoints.resendDelivery(ctx.positionals[0]!),
  },
  {
    spec: {
      words: ['webhooks', 'rotate-secret'],
      summary: 'a new signing secret; the old one keeps signing alongside it for 24 h',
      positionals: [ENDPOINT_ID],
      options: {},
      notes: [SECRET_NOTE],
    },
    run: (ctx) => ctx.client().webhookEndpoints.rotateSecret(ctx.positionals[0]!),
  },
];
