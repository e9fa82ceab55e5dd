// SqlDatabase over a D1 binding (Workers). D1 already has the shape of the port; this adapter only
// narrows results: all() → rows, run() → { changes }, batch() → one { changes } per statement.
// D1 runs a batch as one implicit transaction (all or nothing), which is what the port promises.
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';
import type { D1Database, D1PreparedStatement } from './bindings.ts';

export class D1Statement implements SqlStatement {
  constructor(readonly raw: D1PreparedStatement) {}

  bind(...values: SqlValue[]): SqlStatement {
    for (const [i, v] of values.entries()) {
      // D1 rejects undefined with an opaque error; name the parameter instead.
      if (v === undefined) throw new TypeError(`D1: bind parameter ${i + 1} is undefined`);
    }
    return new D1Statement(this.raw.bind(...values));
  }

  first<T = Record<string, SqlValue>>(): Promise<T | null> {
    return this.raw.first<T>();
  }

  async all<T = Record<string, SqlValue>>(): Promise<T[]> {
    return (await this.raw.all<T>()).results;
  }

  async run(): Promise<{ changes: number }> {
    const result = await this.raw.run();
    return { changes: result.meta.changes ?? 0 };
  }
}

/** Called after a batch committed, with its statements and each one's changes (edge/workers/entry.ts: outbox rows written). */
export type AfterBatch = (statements: readonly SqlStatement[], changes: readonly number[]) => void;

export class D1SqlDatabase implements SqlDatabase {
  constructor(
    readonly d1: D1Database,
    private readonly afterBatch?: AfterBatch,
  ) {}

  prepare(sql: string): SqlStatement {
    return new D1Statement(this.d1.prepare(sql));
  }

  async batch(statements: SqlStatement[]): Promise<{ changes: number }[]> {
    if (statements.length === 0) return [];
    const raw = statements.map((s) => {
      if (!(s instanceof D1Statement)) throw new TypeError('D1SqlDatabase.batch: statements must come from this database');
      return s.raw;
    });
    const results = (await this.d1.batch(raw)).map((r) => ({ changes: r.meta.changes ?? 0 }));
    this.afterBatch?.(
      statements,
      results.map((r) => r.changes),
    );
    return results;
  }
}
