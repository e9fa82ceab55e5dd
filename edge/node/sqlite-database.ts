// SqlDatabase on better-sqlite3 (Node): synchronous SQLite behind the D1-shaped async port.
// WAL mode, foreign keys on; `batch` is one transaction.
import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';

class SqliteStatement implements SqlStatement {
  constructor(
    private readonly db: Database.Database,
    readonly sql: string,
    readonly values: SqlValue[] = [],
  ) {}

  bind(...values: SqlValue[]): SqlStatement {
    return new SqliteStatement(this.db, this.sql, values);
  }

  runSync(): { changes: number } {
    return { changes: this.db.prepare(this.sql).run(...this.values).changes };
  }

  async first<T>(): Promise<T | null> {
    return (this.db.prepare(this.sql).get(...this.values) as T | undefined) ?? null;
  }

  async all<T>(): Promise<T[]> {
    return this.db.prepare(this.sql).all(...this.values) as T[];
  }

  async run(): Promise<{ changes: number }> {
    return this.runSync();
  }
}

export class SqliteDatabase implements SqlDatabase {
  readonly raw: Database.Database;

  /** `path` ':memory:' for tests. */
  constructor(path: string) {
    this.raw = new Database(path);
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('foreign_keys = ON');
    this.raw.pragma('busy_timeout = 5000');
  }

  prepare(sql: string): SqlStatement {
    return new SqliteStatement(this.raw, sql);
  }

  async batch(statements: SqlStatement[]): Promise<{ changes: number }[]> {
    const tx = this.raw.transaction(() => statements.map((s) => (s as SqliteStatement).runSync()));
    return tx();
  }

  /** Applies infra/migrations/*.sql not yet applied (tracked in a `_migrations` table), in name order. */
  migrate(dir: string): string[] {
    this.raw.exec('CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
    const done = new Set((this.raw.prepare('SELECT name FROM _migrations').all() as { name: string }[]).map((r) => r.name));
    const applied: string[] = [];
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      if (done.has(name)) continue;
      const sql = readFileSync(join(dir, name), 'utf8');
      this.raw.transaction(() => {
        this.raw.exec(sql);
        this.raw.prepare('INSERT INTO _migrations (name, applied_at) VALUES (?, ?)').run(name, new Date().toISOString());
      })();
      applied.push(name);
    }
    return applied;
  }

  close(): void {
    this.raw.close();
  }
}
