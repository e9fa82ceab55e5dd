import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteDatabase } from '../../../edge/node/sqlite-database.ts';
import { useTmpDirs } from '../../helpers/tmp.ts';

const MIGRATIONS = fileURLToPath(new URL('../../../infra/migrations/', import.meta.url));

const SCHEMA_TABLES = [
  'tenants',
  'api_keys',
  'datasets',
  'images',
  'training_jobs',
  'job_events',
  'models',
  'webhook_endpoints',
  'webhook_deliveries',
  'webhook_attempts',
  'idempotency_keys',
  'rate_windows',
];

const tmpDir = useTmpDirs('sqlite-db-');
const opened: SqliteDatabase[] = [];
function open(path = ':memory:', statementCacheSize?: number): SqliteDatabase {
  const db = new SqliteDatabase(path, statementCacheSize);
  opened.push(db);
  return db;
}
afterEach(() => {
  for (const db of opened.splice(0)) if (db.raw.open) db.close();
});

async function tables(db: SqliteDatabase): Promise<string[]> {
  const rows = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>();
  return rows.map((r) => r.name);
}

const now = '2026-01-01T00:00:00.000Z';

describe('SqliteDatabase.migrate', () => {
  it('applies 0001 once and creates every table of the schema', async () => {
    const db = open();
    expect(db.migrate(MIGRATIONS)).toEqual(readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort());
    expect(db.migrate(MIGRATIONS)).toEqual([]);
    const have = await tables(db);
    for (const t of [...SCHEMA_TABLES, '_migrations']) expect(have).toContain(t);
    // the list above is the schema's own: every CREATE TABLE in the migrations is in it
    const declared = [...readFileSync(join(MIGRATIONS, '0001_init.sql'), 'utf8').matchAll(/CREATE TABLE (\w+)/g)].map((m) => m[1]);
    expect(declared.sort()).toEqual([...SCHEMA_TABLES].sort());
    const recorded = await db.prepare('SELECT name FROM _migrations').all<{ name: string }>();
    expect(recorded.map((r) => r.name)).toContain('0001_init.sql');
  });

  it('applies only migrations added since, and a failing migration leaves no trace', async () => {
    const dir = tmpDir();
    copyFileSync(join(MIGRATIONS, '0001_init.sql'), join(dir, '0001_init.sql'));
    const db = open();
    expect(db.migrate(dir)).toEqual(['0001_init.sql']);

    writeFileSync(join(dir, '0002_extra.sql'), 'CREATE TABLE extra (id TEXT PRIMARY KEY);');
    expect(db.migrate(dir)).toEqual(['0002_extra.sql']);

    // creates a table, then fails: the table must not survive and the migration is not recorded
    writeFileSync(join(dir, '0003_broken.sql'), 'CREATE TABLE half (id TEXT);\nINSERT INTO no_such_table VALUES (1);');
    expect(() => db.migrate(dir)).toThrow(/no_such_table/);
    expect(await tables(db)).not.toContain('half');
    expect(await db.prepare("SELECT 1 AS x FROM _migrations WHERE name = '0003_broken.sql'").first()).toBeNull();
  });
});

describe('SqliteDatabase statements', () => {
  it('first/all/run with binds', async () => {
    const db = open();
    db.migrate(MIGRATIONS);
    const insert = db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)');
    expect(await insert.bind('t1', 'Acme', now).run()).toEqual({ changes: 1 });
    expect(await insert.bind('t2', 'Beta', now).run()).toEqual({ changes: 1 });
    expect(await insert.bind('t3', 'Beta', now).run()).toEqual({ changes: 1 });

    const byId = db.prepare('SELECT id, name FROM tenants WHERE id = ?');
    expect(await byId.bind('t2').first()).toEqual({ id: 't2', name: 'Beta' });
    expect(await byId.bind('nope').first()).toBeNull();
    // bind returns a new statement: the earlier binding is unaffected
    const t1 = byId.bind('t1');
    byId.bind('t3');
    expect(await t1.first<{ name: string }>()).toEqual({ id: 't1', name: 'Acme' });

    const byName = db.prepare('SELECT id FROM tenants WHERE name = ? ORDER BY id');
    expect(await byName.bind('Beta').all()).toEqual([{ id: 't2' }, { id: 't3' }]);
    expect(await byName.bind('Zeta').all()).toEqual([]);

    expect(await db.prepare('UPDATE tenants SET name = ? WHERE name = ?').bind('Gamma', 'Beta').run()).toEqual({ changes: 2 });
    expect(await db.prepare('DELETE FROM tenants WHERE id = ?').bind('nope').run()).toEqual({ changes: 0 });

    // NULL and integers round-trip
    await db
      .prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)')
      .bind('k1', 't1', 'hash1', 'sk_', now, null)
      .run();
    expect(await db.prepare('SELECT revoked_at FROM api_keys WHERE id = ?').bind('k1').first()).toEqual({ revoked_at: null });
    await db.prepare('INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, ?)').bind('k1', 1_767_225_600_000, 3).run();
    expect(await db.prepare('SELECT window_start, count FROM rate_windows').first()).toEqual({ window_start: 1_767_225_600_000, count: 3 });
  });

  it('enforces foreign keys', async () => {
    const db = open();
    db.migrate(MIGRATIONS);
    await expect(
      db.prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)').bind('k1', 'ghost', 'h', 'p', now).run(),
    ).rejects.toThrow(/FOREIGN KEY/);
  });

  it('batch runs all statements in one transaction and reports changes per statement', async () => {
    const db = open();
    db.migrate(MIGRATIONS);
    const tenant = db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)');
    const key = db.prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)');
    const res = await db.batch([
      tenant.bind('t1', 'Acme', now),
      key.bind('k1', 't1', 'h1', 'p', now), // sees the tenant inserted by the statement before it
      db.prepare("UPDATE tenants SET name = 'Acme Inc' WHERE id = 't1'"),
      db.prepare("DELETE FROM tenants WHERE id = 'nope'"),
    ]);
    expect(res).toEqual([{ changes: 1 }, { changes: 1 }, { changes: 1 }, { changes: 0 }]);
    expect(await db.prepare('SELECT name FROM tenants').all()).toEqual([{ name: 'Acme Inc' }]);
  });

  it('a batch whose last statement violates a constraint leaves nothing of the earlier statements', async () => {
    const db = open();
    db.migrate(MIGRATIONS);
    await db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').bind('t0', 'Before', now).run();
    const tenant = db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)');
    const key = db.prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)');
    await expect(
      db.batch([
        tenant.bind('t1', 'Acme', now),
        key.bind('k1', 't1', 'same-hash', 'p', now),
        db.prepare("UPDATE tenants SET name = 'Changed' WHERE id = 't0'"),
        key.bind('k2', 't1', 'same-hash', 'p', now), // UNIQUE(key_hash) violation
      ]),
    ).rejects.toThrow(/UNIQUE/);
    expect(await db.prepare('SELECT id, name FROM tenants').all()).toEqual([{ id: 't0', name: 'Before' }]);
    expect(await db.prepare('SELECT COUNT(*) AS n FROM api_keys').first()).toEqual({ n: 0 });
    // CHECK constraints abort a batch just the same
    await expect(
      db.batch([
        tenant.bind('t2', 'Two', now),
        db.prepare("INSERT INTO datasets (id, tenant_id, name, status, created_at) VALUES ('d1', 't2', 'ds', 'bogus', ?)").bind(now),
      ]),
    ).rejects.toThrow(/CHECK/);
    expect(await db.prepare("SELECT id FROM tenants WHERE id = 't2'").first()).toBeNull();
    // and the database is usable afterwards (no transaction left open)
    expect(await db.batch([tenant.bind('t2', 'Two', now)])).toEqual([{ changes: 1 }]);
  });
});

describe('SqliteDatabase prepared-statement cache', () => {
  it('prepares each SQL text once and reuses the statement across binds and calls', async () => {
    const db = open();
    db.migrate(MIGRATIONS);
    const prepare = vi.spyOn(db.raw, 'prepare');
    const insertSql = 'INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)';
    for (let i = 0; i < 5; i++) await db.prepare(insertSql).bind(`t${i}`, `T${i}`, now).run();
    await db.batch([db.prepare(insertSql).bind('t5', 'T5', now), db.prepare(insertSql).bind('t6', 'T6', now)]);
    const selectSql = 'SELECT id FROM tenants WHERE id = ?';
    expect(await db.prepare(selectSql).bind('t3').first()).toEqual({ id: 't3' });
    expect(await db.prepare(selectSql).bind('t6').all()).toEqual([{ id: 't6' }]);
    // 7 inserts and 2 reads, but one compilation per text
    expect(prepare.mock.calls.map((c) => c[0])).toEqual([insertSql, selectSql]);
    expect(db.statements.get(insertSql)).toBe(prepare.mock.results[0]!.value);
    expect(prepare).toHaveBeenCalledTimes(2); // that lookup was a hit too
    // different values in one statement object do not leak between calls
    expect(await db.prepare('SELECT COUNT(*) AS n FROM tenants').first()).toEqual({ n: 7 });
  });

  it('is bounded: the least recently used text is evicted and prepared again when next used', async () => {
    const db = open(':memory:', 3);
    const prepare = vi.spyOn(db.raw, 'prepare');
    const q = (n: number) => db.prepare(`SELECT ${n} AS n`).first<{ n: number }>();
    for (const n of [1, 2, 3]) expect(await q(n)).toEqual({ n });
    expect(db.statements.size).toBe(3);
    expect(await q(1)).toEqual({ n: 1 }); // hit: 1 becomes the most recently used, 2 the least
    expect(prepare).toHaveBeenCalledTimes(3);
    expect(await q(4)).toEqual({ n: 4 }); // evicts 2
    expect(db.statements.size).toBe(3);
    expect(await q(1)).toEqual({ n: 1 });
    expect(await q(3)).toEqual({ n: 3 });
    expect(prepare).toHaveBeenCalledTimes(4); // 1, 3 and 4 were cached
    expect(await q(2)).toEqual({ n: 2 }); // 2 was evicted: compiled again
    expect(prepare).toHaveBeenCalledTimes(5);
    expect(db.statements.size).toBe(3);
    for (let n = 10; n < 200; n++) await q(n);
    expect(db.statements.size).toBe(3);
  });

  it('caches nothing for invalid SQL, and the error still reaches the caller', async () => {
    const db = open();
    await expect(db.prepare('SELECT FROM nowhere').all()).rejects.toThrow();
    expect(db.statements.size).toBe(0);
    expect(() => new SqliteDatabase(':memory:', 0)).toThrow(/capacity/);
  });
});

describe('SqliteDatabase on a file', () => {
  it('keeps data across close and reopen', async () => {
    const path = join(tmpDir(), 'edge.db');
    const db1 = open(path);
    expect(db1.migrate(MIGRATIONS)).toContain('0001_init.sql');
    await db1.batch([
      db1.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').bind('t1', 'Acme', now),
      db1.prepare('INSERT INTO datasets (id, tenant_id, name, status, created_at) VALUES (?, ?, ?, ?, ?)').bind('d1', 't1', 'cats', 'open', now),
    ]);
    db1.close();

    const db2 = open(path);
    expect(db2.migrate(MIGRATIONS)).toEqual([]); // migrations are remembered too
    expect(await db2.prepare('SELECT name FROM tenants WHERE id = ?').bind('t1').first()).toEqual({ name: 'Acme' });
    expect(await db2.prepare('SELECT name, status, declared_classes FROM datasets').all()).toEqual([
      { name: 'cats', status: 'open', declared_classes: '[]' },
    ]);
    expect(db2.raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db2.raw.pragma('foreign_keys', { simple: true })).toBe(1);
  });
});
