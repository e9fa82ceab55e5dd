// A Cloudflare Worker that uses the SDK (sdk/src/index.ts), run by test/sdk/standalone.test.ts inside workerd without
// the nodejs_compat flag: the SDK's core must need nothing but Web APIs there.
//   GET  /calls          → creates a dataset, lists the datasets, reads a missing one: what happened, as JSON
//   POST /verify?secret= → webhooks.verify of the request's body and headers
import { CoCoOp, NotFoundError, verifyWebhook } from '../../../sdk/src/index.ts';

interface Env {
  API_URL: string;
  API_KEY: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/verify') {
      try {
        const event = verifyWebhook(await request.text(), request.headers, url.searchParams.get('secret') ?? '');
        return Response.json({ verified: true, event });
      } catch (err) {
        return Response.json({ verified: false, error: (err as Error).name });
      }
    }
    const client = new CoCoOp({ baseURL: env.API_URL, apiKey: env.API_KEY });
    const created = await client.datasets.create({ name: 'made in workerd' });
    const listed: string[] = [];
    for await (const d of client.datasets.list({ limit: 1 })) listed.push(d.id);
    const missing = await client.datasets.retrieve('ds_missing').catch((e: unknown) => e);
    return Response.json({
      created: created.id,
      listed,
      missing: missing instanceof NotFoundError ? { status: missing.status, code: missing.code } : String(missing),
    });
  },
};
