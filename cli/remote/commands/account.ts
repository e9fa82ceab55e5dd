// `cocoop remote login|logout|whoami|usage`: the credentials of the command line, the tenant, its billable usage.
import { CoCoOp } from '../../../sdk/src/node/index.ts';
import { UsageError, commandName, stringOption } from '../args.ts';
import { checkBaseURL, configPath, keyPrefix, removeConfigFile, resolveCredentials, writeConfigFile } from '../config.ts';
import type { RemoteCommand } from '../context.ts';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export const CREDENTIAL_COMMANDS: RemoteCommand[] = [
  {
    spec: {
      words: ['login'],
      summary: 'checks a base URL and API key against the API (GET /v1/me) and saves them in the config file, mode 0600',
      offline: true,
      options: {
        'base-url': { type: 'string', value: 'URL', required: true, help: 'the API, e.g. https://api.example.com' },
        'api-key': { type: 'string', value: 'KEY', required: true, help: 'a tenant API key (ck_live_…)' },
        'no-verify': { type: 'boolean', help: 'save without calling the API' },
      },
      notes: [
        'The file: $XDG_CONFIG_HOME/cocoop/config.json (default ~/.config/cocoop/config.json). Options and the',
        'COCOOP_BASE_URL / COCOOP_API_KEY variables take precedence over it. A config file group or others may read is',
        'refused (chmod 600 it). Output: {"config": PATH, "base_url", "api_key": its prefix, "tenant": {"id", "name"} | null}.',
      ],
    },
    async run(ctx) {
      const baseURL = checkBaseURL(stringOption(ctx.values, 'base-url')!, '--base-url');
      const apiKey = stringOption(ctx.values, 'api-key')!;
      let tenant: { id: string; name: string } | null = null;
      if (ctx.values['no-verify'] !== true) {
        const me = await new CoCoOp({ baseURL, apiKey }).tenant.retrieve();
        tenant = { id: me.id, name: me.name };
      }
      const path = configPath();
      writeConfigFile(path, { baseURL, apiKey });
      ctx.status.note(`saved ${baseURL} and key ${keyPrefix(apiKey)} in ${path}`);
      return { config: path, base_url: baseURL, api_key: keyPrefix(apiKey), tenant };
    },
  },
  {
    spec: { words: ['logout'], summary: 'removes the config file of cocoop remote login', offline: true, options: {}, notes: ['Output: {"config": PATH, "removed": boolean}'] },
    async run() {
      const path = configPath();
      return { config: path, removed: removeConfigFile(path) };
    },
  },
];

export const ACCOUNT_COMMANDS: RemoteCommand[] = [
  {
    spec: {
      words: ['whoami'],
      summary: 'the API and key in use (its prefix), and the tenant with its quotas and what it uses of them',
      options: {},
      notes: ['Output: {"base_url", "api_key": its prefix, "tenant": GET /v1/me}'],
    },
    async run(ctx) {
      const { baseURL, apiKey } = resolveCredentials(ctx.values);
      return { base_url: baseURL, api_key: keyPrefix(apiKey), tenant: await ctx.client().tenant.retrieve() };
    },
  },
  {
    spec: {
      words: ['usage'],
      summary: 'billable usage per UTC day (classify, embeddings, training and evaluation time, storage), with totals',
      options: {
        from: { type: 'string', value: 'YYYY-MM-DD', default: "the first day of --to's month", help: 'first day, included' },
        to: { type: 'string', value: 'YYYY-MM-DD', default: 'today', help: 'last day, included (at most 366 days after --from)' },
      },
      notes: ['Output: GET /v1/usage: {"from", "to", "granularity": "day", "data": [one entry per day], "totals"}'],
    },
    async run(ctx) {
      const from = stringOption(ctx.values, 'from');
      const to = stringOption(ctx.values, 'to');
      for (const [key, v] of [['from', from], ['to', to]] as const) {
        if (v !== undefined && !DATE.test(v)) throw new UsageError(`${commandName(ctx.spec)}: --${key} must be a date YYYY-MM-DD, got "${v}"`);
      }
      return ctx.client().usage.retrieve({ ...(from ? { from } : {}), ...(to ? { to } : {}) });
    },
  },
];
