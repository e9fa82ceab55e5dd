// SqlDatabase on better-sqlite3 (Node): synchronous SQLite behind the D1-shaped async port.
// WAL mode, foreign keys on; `batch` is one transaction. Each SQL text is compiled once: the prepared statements are
// kept in a bounded LRU map keyed by the text (the routes use a fixed set of texts; the bound keeps texts built at
// run time, if any, from growing it without end).
import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqlDatabase, SqlStatement, SqlValue } from '../ports.ts';

/** Default number of prepared statements kept per database. */
export const STATEMENT_CACHE_SIZE = 500;

/** Prepared statements by SQL text, least recently used first (a Map keeps insertion order). */
export class StatementCache {
  private readonly map = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    readonly capacity: number,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new Error('statement cache capacity must be a whole number ≥ 1');
  }

  get size(): number {
    return this.map.size;
  }

  /** The prepared statement for `sql`: the cached one (now most recently used), else prepared and cached. */
  get(sql: string): Database.Statement {
    let stmt = this.map.get(sql);
    if (stmt) {
      this.map.delete(sql);
    } else {
      stmt = this.db.prepare(sql); // throws on invalid SQL: nothing is cached
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(sql, stmt);
    return stmt;
  }

  clear(): void {
    this.map.clear();
  }
}

class SqliteStatement implements SqlStatement {
  constructor(
    private readonly cache: StatementCache,
    readonly sql: string,
    readonly values: SqlValue[] = [],
  ) {}

  bind(...values: SqlValue[]): SqlStatement {
    return new SqliteStatement(this.cache, this.sql, values);
  }

  runSync(): { changes: number } {
    return { changes: this.cache.get(this.sql).run(...this.values).changes };
  }

  async first<T>(): Promise<T | null> {
    return (this.cache.get(this.sql).get(...this.values) as T | undefined) ?? null;
  }

  async all<T>(): Promise<T[]> {
    return this.cache.get(this.sql).all(...this.values) as T[];
  }

  async run(): Promise<{ changes: number }> {
    return this.runSync();
  }
}

export class SqliteDatabase implements SqlDatabase {
  readonly raw: Database.Database;
  readonly statements: StatementCache;

  /** `path` ':memory:' for tests; `statementCacheSize` prepared statements are kept (LRU by SQL text). */
  constructor(path: string, statementCacheSize = STATEMENT_CACHE_SIZE) {
    if (!(Number.isInteger(statementCacheSize) && statementCacheSize >= 1)) throw new Error('statement cache capacity must be a whole number ≥ 1');
    this.raw = new Database(path);
    this.statements = new StatementCache(this.raw, statementCacheSize);
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('foreign_keys = ON');
    this.raw.pragma('busy_timeout = 5000');
  }

  prepare(sql: string): SqlStatement {
    return new SqliteStatement(this.statements, sql);
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
    this.statements.clear();
    this.raw.close();
  }
}
