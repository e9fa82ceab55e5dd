// Fault injectors over the SqlDatabase port (named, so a test says which fault it injects): they delegate to
// a real database and fail at one chosen point.
import type { SqlDatabase, SqlStatement } from '../../edge/ports.ts';

export type CrashMode =
  /** The batch committed, then the request fails (an exception after the commit). */
  | 'throw'
  /** The batch committed, then the request never continues (a process that died after the commit). */
  | 'hang';

/**
 * "Crash after commit": the first `batch` whose statements include one matching `sql` commits on the real
 * database, then throws or never returns. `committed` resolves at that moment. Later batches pass through.
 */
export class CrashAfterCommit implements SqlDatabase {
  private armed = true;
  private signal!: () => void;
  readonly committed = new Promise<void>((ok) => (this.signal = ok));

  constructor(
    private readonly inner: SqlDatabase,
    private readonly sql: RegExp,
    private readonly mode: CrashMode,
  ) {}

  prepare(sql: string): SqlStatement {
    return this.inner.prepare(sql);
  }

  async batch(statements: SqlStatement[]): Promise<{ changes: number }[]> {
    const result = await this.inner.batch(statements);
    const texts = statements.map((s) => (s as unknown as { sql?: string }).sql ?? '');
    if (!this.armed || !texts.some((t) => this.sql.test(t))) return result;
    this.armed = false;
    this.signal();
    if (this.mode === 'throw') throw new Error('injected fault: the request failed right after its batch committed');
    return new Promise<never>(() => {});
  }
}
