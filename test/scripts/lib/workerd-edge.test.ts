// The wrangler config the local Workers edge runs with (scripts/lib/workerd-edge.ts writeWranglerConfig): paths made
// absolute, the custom build run from the repository root, and nothing watched while it runs. A watched console
// source that changed made wrangler rebuild and restart mid-test, and the restart failed to bind the devtools
// inspector's default port that a second wrangler dev beside it held (a CI failure).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
  const toml = parse(readFileSync(config, 'utf8')) as { main: string; build: { cwd: string; watch_dir: string }; assets: { directory: string } };

  it('watches an empty folder of its own, not the console sources', () => {
    expect(toml.build.watch_dir).toBe(join(dir, 'unwatched'));
    expect(existsSync(toml.build.watch_dir)).toBe(true);
    expect(readdirSync(toml.build.watch_dir)).toEqual([]);
    expect(toml.build.watch_dir.startsWith(join(ROOT, 'console'))).toBe(false);
  });

  it('makes the other paths absolute and runs the build from the repository root', () => {
    expect(isAbsolute(toml.main) && existsSync(toml.main)).toBe(true);
    expect(toml.assets.directory).toBe(join(ROOT, 'console/dist/site'));
    expect(resolve(toml.build.cwd)).toBe(ROOT);
    expect(readFileSync(join(dir, '.dev.vars'), 'utf8')).toBe(`ADMIN_TOKEN="${'x'.repeat(20)}"\n`);
  });
});
