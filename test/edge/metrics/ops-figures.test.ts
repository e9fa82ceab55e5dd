// The statements behind the metrics figures (edge/metrics/ops-figures.ts), on a migrated SQLite: each searches the
// index it was written for (EXPLAIN QUERY PLAN), so a scrape every few seconds costs the unfinished work and the
// pending/failed deliveries, never the whole history of jobs and webhooks. And the figures count what the rows say.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPS_QUERIES, opsFigures } from '../../../edge/metrics/ops-figures.ts';
import { MIGRATIONS_DIR } from '../../../edge/node/server.ts';
import { SqliteDatabase } from '../../../edge/node/sqlite-database.ts';

let dir: string;
let db: SqliteDatabase;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ops-figures-'));
  db = new SqliteDatabase(join(dir, 'edge.sqlite'));
  db.migrate(MIGRATIONS_DIR);
});
afterAll(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function plan(sql: string, values: (string | number)[]): string[] {
  return (db.raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as { detail: string }[]).map((p) => p.detail);
}

/** What each statement's index search must be keyed on (the index itself is the planner's choice among those). */
const EXPECTED_SEARCH: Record<keyof typeof OPS_QUERIES, RegExp> = {
  unfinished: /^SEARCH training_jobs USING (COVERING )?INDEX \w+ \(status=\?/,
  finished: /^SEARCH training_jobs USING (COVERING )?INDEX training_jobs_finished \(status=\? AND finished_at>\?\)/,
  pendingDeliveries: /^SEARCH webhook_deliveries USING (COVERING )?INDEX \w+ \(status=\?/,
  failedDeliveries: /^SEARCH webhook_deliveries USING COVERING INDEX \w+ \(status=\?/,
};

describe('the metrics statements', () => {
  it('each searches an index on status (and finished_at) and scans no table (EXPLAIN QUERY PLAN)', () => {
    for (const [name, sql] of Object.entries(OPS_QUERIES) as [keyof typeof OPS_QUERIES, string][]) {
      const lines = plan(sql, name === 'finished' ? ['2025-01-01T00:00:00.000Z'] : []);
      const reads = lines.filter((d) => /^(SCAN|SEARCH) /.test(d));
      expect(reads.length, `${name}: ${lines.join(' | ')}`).toBeGreaterThan(0);
      for (const d of reads) expect(d, name).toMatch(EXPECTED_SEARCH[name]);
    }
  });

  it('count unfinished work by kind and state, the last hour of finished work, and the outbox', async () => {
    const now = new Date('2025-06-01T12:00:00.000Z');
    const iso = (msAgo: number) => new Date(now.getTime() - msAgo).toISOString();
    const job = (kind: string, status: string, createdAgo: number, finishedAgo: number | null = null) =>
      db.raw
        .prepare(
          `INSERT INTO training_jobs (id, tenant_id, kind, dataset_id, method, status, hyperparameters, created_at, finished_at)
           VALUES (?, 't1', ?, 'ds_x', ?, ?, '{}', ?, ?)`,
        )
        .run(`job_${Math.random().toString(36).slice(2)}`, kind, kind === 'evaluation' ? 'zero-shot' : 'coop', status, iso(createdAgo), finishedAgo === null ? null : iso(finishedAgo));
    job('training', 'queued', 90_000);
    job('evaluation', 'queued', 400_000);
    job('training', 'running', 500_000);
    job('evaluation', 'cancelling', 500_000);
    job('training', 'failed', 9_000_000, 1_000_000); // 16 min ago
    job('evaluation', 'succeeded', 9_000_000, 3_000_000); // 50 min ago
    job('training', 'succeeded', 9_000_000, 4_000_000); // over an hour ago: not counted
    const delivery = (status: string, attempts: number, createdAgo: number) =>
      db.raw
        .prepare(
          `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
           VALUES (?, 't1', 'ep', 'training_job.failed', ?, ?, ?, 0, ?)`,
        )
        .run(`msg_${Math.random().toString(36).slice(2)}`, String(Math.random()), status, attempts, iso(createdAgo));
    delivery('pending', 0, 10_000);
    delivery('pending', 3, 70_000);
    delivery('failed', 7, 100_000);
    delivery('succeeded', 1, 100_000);

    expect(await opsFigures(db, now)).toEqual({
      generated_at: now.toISOString(),
      jobs: { training: { queued: 1, running: 1, cancelling: 0 }, evaluation: { queued: 1, running: 0, cancelling: 1 } },
      jobs_finished_last_hour: { training: { succeeded: 0, failed: 1, cancelled: 0 }, evaluation: { succeeded: 1, failed: 0, cancelled: 0 } },
      queue: { queued: 2, running: 2, demand: 4, oldest_queued_seconds: 400 },
      webhooks: { pending: 2, retrying: 1, failed: 1, oldest_pending_seconds: 70 },
    });
  });
});
