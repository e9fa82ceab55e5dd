// Fairness of the dispatcher (the Node timer and, as a fallback, the Workers cron): one run picks every tenant's due
// deliveries before a big tenant's surplus, and no endpoint ever has more than 6 attempts open at once, however many
// runs there are. A local-mode edge on SQLite, real receivers on loopback (node:http).
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { dispatchDueWebhooks } from '../../../edge/webhooks/dispatcher.ts';
import { outboxStatements } from '../../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../../edge/webhooks/settings.ts';
import { jsonHeaders } from '../../helpers/edge.ts';
import { useEdgeAndReceiver } from '../../helpers/edge-receiver.ts';
import { waitUntil } from '../../helpers/wait-until.ts';

const fx = useEdgeAndReceiver();
const settings = webhookSettings({ localMode: true, retryScheduleSeconds: [0, 0], timeoutMs: 5000 });

async function endpoint(key: string, path: string): Promise<string> {
  const res = await fx.edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(key), body: JSON.stringify({ url: fx.rx.url + path }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** One event of the tenant (one delivery per endpoint), created at `at`. */
async function emit(tenantId: string, jobId: string, at: Date): Promise<void> {
  const stmts = await outboxStatements(fx.edge.db, tenantId, 'training_job.succeeded', { id: jobId, status: 'succeeded' }, at);
  await fx.edge.db.batch(stmts);
}

type Row = { id: string; tenant_id: string; endpoint_id: string; status: string; attempts: number };
const rowsOf = (tenantIds: string[]) =>
  fx.edge.db.raw
    .prepare(`SELECT id, tenant_id, endpoint_id, status, attempts FROM webhook_deliveries WHERE tenant_id IN (${tenantIds.map(() => '?').join(', ')})`)
    .all(...tenantIds) as Row[];
/** Ends the rows of these tenants so later tests' runs do not see them. */
const retire = (tenantIds: string[]) =>
  fx.edge.db.raw.prepare(`UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending' AND tenant_id IN (${tenantIds.map(() => '?').join(', ')})`).run(...tenantIds);

describe('dispatcher fairness', () => {
  it("one run picks every tenant's due rows before the big tenant's older surplus, at most 6 per endpoint", async () => {
    const big = await fx.edge.createTenant('Big');
    const bigEndpoints: string[] = [];
    for (let e = 0; e < 5; e++) bigEndpoints.push(await endpoint(big.api_key, `/big-${e}`));
    const small = [];
    for (let t = 0; t < 4; t++) {
      const s = await fx.edge.createTenant(`Small ${t}`);
      await endpoint(s.api_key, `/small-${t}`);
      small.push(s);
    }
    const now = Date.now();
    // The big tenant's 40 rows (8 events × 5 endpoints) are all older than the small tenants' 8.
    for (let j = 0; j < 8; j++) await emit(big.id, `job_big_${j}`, new Date(now - 60_000 + j));
    for (const s of small) for (let j = 0; j < 2; j++) await emit(s.id, `job_${s.id}_${j}`, new Date(now - 1000 + j));
    const tenants = [big.id, ...small.map((s) => s.id)];
    expect(rowsOf(tenants)).toHaveLength(48);

    const run = await dispatchDueWebhooks(fx.edge.ports, { ...settings, batchSize: 20 }, new Date(now));
    expect(run).toMatchObject({ due: 20, claimed: 20, succeeded: 20 });
    const rows = rowsOf(tenants);
    const sent = rows.filter((r) => r.attempts > 0);
    // Every small tenant's rows went in this run; the big tenant got the rest of the batch.
    for (const s of small) expect(sent.filter((r) => r.tenant_id === s.id), s.name).toHaveLength(2);
    expect(sent.filter((r) => r.tenant_id === big.id)).toHaveLength(12);
    for (const e of bigEndpoints) expect(sent.filter((r) => r.endpoint_id === e).length).toBeLessThanOrEqual(6);
    retire(tenants);
  });

  it('never has more than 6 attempts open to one endpoint; while 6 are open, another run sends other tenants\' rows', async () => {
    const held = await fx.edge.createTenant('Held');
    const heldEndpoint = await endpoint(held.api_key, '/held');
    const other = await fx.edge.createTenant('Other');
    await endpoint(other.api_key, '/other');
    let open = 0;
    let maxOpen = 0;
    const waiting: ServerResponse[] = [];
    fx.rx.on('/held', (_r, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      waiting.push(res);
    });
    const releaseAll = () => {
      for (const res of waiting.splice(0)) {
        open--;
        res.writeHead(200).end();
      }
    };
    const now = Date.now();
    for (let j = 0; j < 10; j++) await emit(held.id, `job_held_${j}`, new Date(now - 1000 + j));

    // Two runs at once, each free to take all 10.
    const runs = Promise.all([dispatchDueWebhooks(fx.edge.ports, settings), dispatchDueWebhooks(fx.edge.ports, settings)]);
    await waitUntil('6 requests open at /held', () => open >= 6, { intervalMs: 10 });
    // While they are open: a new event of another tenant is sent by a third run, which takes none of /held's rows.
    await emit(other.id, 'job_other', new Date());
    const third = await dispatchDueWebhooks(fx.edge.ports, settings);
    expect(third).toMatchObject({ due: 1, claimed: 1, succeeded: 1 });
    expect(fx.rx.at('/other')).toHaveLength(1);
    releaseAll();
    const [a, b] = await runs;
    expect(a.claimed + b.claimed).toBe(6);
    expect(maxOpen).toBe(6);
    expect(rowsOf([held.id]).filter((r) => r.attempts > 0)).toHaveLength(6);

    // The next runs send the other 4, never more than 6 open.
    fx.rx.on('/held', (_r, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      setTimeout(() => {
        open--;
        res.writeHead(200).end();
      }, 50);
    });
    await dispatchDueWebhooks(fx.edge.ports, settings);
    const rows = rowsOf([held.id]);
    expect(rows.map((r) => r.status)).toEqual(Array(10).fill('succeeded'));
    expect(rows.every((r) => r.endpoint_id === heldEndpoint && r.attempts === 1)).toBe(true);
    expect(maxOpen).toBe(6);
    // Nothing is left marked in flight.
    expect(fx.edge.db.raw.prepare('SELECT COUNT(*) AS n FROM webhook_deliveries WHERE in_flight_until IS NOT NULL').get()).toEqual({ n: 0 });
  });
});
