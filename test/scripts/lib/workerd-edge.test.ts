// The wrangler config the local Workers edge runs with (scripts/lib/workerd-edge.ts writeWranglerConfig): paths made
// absolute, and no `[build]` table, so wrangler watches no build folder while it runs (startWorkerdEdge runs the
// build once before). A watched folder made wrangler rebuild and restart mid-test, and the restart failed to bind
// the devtools inspector's default port that a second wrangler dev beside it held (a CI failure).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { writeWranglerConfig } from '../../../scripts/lib/workerd-edge.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('writeWranglerConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wrangler-config-'));
  dirs.push(dir);
  const config = writeWranglerConfig(dir, { ADMIN_TOKEN: 'x'.repeat(20) });
  const toml = parse(readFileSync(config, 'utf8')) as { main: string; build?: unknown; assets: { directory: string }; d1_databases: unknown[] };
  const source = parse(readFileSync(join(ROOT, 'infra/cloudflare/wrangler.toml'), 'utf8')) as { build?: { command?: string } };

  it('has no [build] table (nothing for wrangler to watch and rebuild), while the repository config has one', () => {
    expect(source.build?.command).toMatch(/build-console/);
    expect(toml.build).toBeUndefined();
    expect(toml.d1_databases.length).toBeGreaterThan(0); // the tables after [build] are still there
  });

  it('makes the paths absolute', () => {
    expect(isAbsolute(toml.main) && existsSync(toml.main)).toBe(true);
    expect(toml.assets.directory).toBe(join(ROOT, 'console/dist/site'));
    expect(readFileSync(join(dir, '.dev.vars'), 'utf8')).toBe(`ADMIN_TOKEN="${'x'.repeat(20)}"\n`);
  });
});
