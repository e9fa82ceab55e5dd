// A SqlDatabase that passes every call to a real one and records each statement the edge binds: its SQL
// and its values. Used to check properties of every query the edge runs (D1's limit of 100 bound
// parameters per statement; that lookups and purges use an index, via EXPLAIN QUERY PLAN).
import type { SqlDatabase, SqlStatement, SqlValue } from '../../edge/ports.ts';

export interface RecordedStatement {
  sql: string;
  values: SqlValue[];
}

class RecordingStatement implements SqlStatement {
  constructor(
    private readonly owner: RecordingDatabase,
    readonly inner: SqlStatement,
    readonly sql: string,
    readonly bound: boolean,
  ) {}

  bind(...values: SqlValue[]): SqlStatement {
    this.owner.recorded.push({ sql: this.sql, values });
    return new RecordingStatement(this.owner, this.inner.bind(...values), this.sql, true);
  }

  private note(): void {
    if (!this.bound) this.owner.recorded.push({ sql: this.sql, values: [] });
  }

  first<T>(): Promise<T | null> {
    this.note();
    return this.inner.first<T>();
  }

  all<T>(): Promise<T[]> {
    this.note();
    return this.inner.all<T>();
  }

  run(): Promise<{ changes: number }> {
    this.note();
    return this.inner.run();
  }
}

export class RecordingDatabase implements SqlDatabase {
  readonly recorded: RecordedStatement[] = [];

  constructor(readonly inner: SqlDatabase) {}

  prepare(sql: string): SqlStatement {
    return new RecordingStatement(this, this.inner.prepare(sql), sql, false);
  }

  batch(statements: SqlStatement[]): Promise<{ changes: number }[]> {
    return this.inner.batch(
      statements.map((s) => {
        if (!(s instanceof RecordingStatement)) throw new TypeError('RecordingDatabase.batch: statements must come from this database');
        if (!s.bound) this.recorded.push({ sql: s.sql, values: [] });
        return s.inner;
      }),
    );
  }

  /** Distinct SQL texts with the largest number of values any binding of them had. */
  widest(): { sql: string; binds: number }[] {
    const m = new Map<string, number>();
    for (const r of this.recorded) m.set(r.sql, Math.max(m.get(r.sql) ?? 0, r.values.length));
    return [...m.entries()].map(([sql, binds]) => ({ sql, binds }));
  }
}
