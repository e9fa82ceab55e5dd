// Every dependency install script in package-lock.json has a reviewed decision in package.json
// "allowScripts" (README "Install"): npm 12 blocks unlisted scripts, and an unreviewed one must fail CI
// here, naming the package, instead of surfacing as an install-time surprise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';
import { decide, label, packagesWithInstallScripts, parsePolicyKey, unusedKeys } from './allow-scripts-policy.ts';

const pkgJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
const policy = pkgJson.allowScripts ?? {};
const scripted = packagesWithInstallScripts(lock);

describe('package.json allowScripts covers package-lock.json', () => {
  it('every package with an install script is allowed or denied', () => {
    const unreviewed = scripted.filter((p) => decide(p, policy) === 'unreviewed').map(label);
    expect(
      unreviewed,
      `install scripts with no allowScripts decision: ${unreviewed.join(', ')} — review what each script does, ` +
        'then add "name": true or "name": false to package.json allowScripts and a line to README "Install"',
    ).toEqual([]);
  });

  it('every allowScripts key is a form npm honours and decides some locked package', () => {
    for (const key of Object.keys(policy)) expect(() => parsePolicyKey(key), key).not.toThrow();
    for (const value of Object.values(policy)) expect(typeof value).toBe('boolean');
    expect(unusedKeys(policy, scripted), 'allowScripts keys that match no locked package with an install script').toEqual([]);
  });

  it("better-sqlite3's native build is allowed; onnxruntime-node's CUDA download is denied", () => {
    const named = (name: string) => scripted.filter((p) => p.name === name);
    expect(named('better-sqlite3').length).toBeGreaterThan(0);
    for (const p of named('better-sqlite3')) expect(decide(p, policy), label(p)).toBe('allowed');
    expect(named('onnxruntime-node').length).toBeGreaterThan(0);
    for (const p of named('onnxruntime-node')) expect(decide(p, policy), label(p)).toBe('denied');
  });
});

describe('allowScripts matching (npm rules)', () => {
  const lockOf = (packages: Record<string, object>) => ({ packages: { '': { name: 'root' }, ...packages } });
  const pkgs = packagesWithInstallScripts(
    lockOf({
      'node_modules/a': { version: '1.0.0', hasInstallScript: true, resolved: 'https://registry.example/a/-/a-1.0.0.tgz' },
      'node_modules/b': { version: '2.0.0' },
      'node_modules/x/node_modules/@s/c': { version: '3.1.0', hasInstallScript: true, resolved: 'https://registry.example/@s/c/-/c-3.1.0.tgz' },
      'node_modules/d': { version: '5.0.0', hasInstallScript: true },
      'node_modules/alias': { name: 'real', version: '4.0.0', hasInstallScript: true },
      'node_modules/linked': { hasInstallScript: true, link: true },
      'node_modules/a/node_modules/bundled': { version: '1.0.0', hasInstallScript: true, inBundle: true },
    }),
  );
  const a = pkgs.find((p) => p.name === 'a')!;
  const c = pkgs.find((p) => p.name === '@s/c')!;
  const d = pkgs.find((p) => p.name === 'd')!;

  it('lists only packages whose scripts npm runs, by their real (scoped, aliased) names', () => {
    expect(pkgs.map(label)).toEqual([
      'a@1.0.0 (node_modules/a)',
      '@s/c@3.1.0 (node_modules/x/node_modules/@s/c)',
      'd@5.0.0 (node_modules/d)',
      'real@4.0.0 (node_modules/alias)',
    ]);
  });

  it('a pin decides only its versions; a bare name decides all; a deny wins', () => {
    expect(decide(a, { 'a@1.0.0': true })).toBe('allowed');
    expect(decide(a, { 'a@0.9.0': true })).toBe('unreviewed');
    expect(decide(a, { 'a@0.9.0 || 1.0.0': true })).toBe('allowed');
    expect(decide(a, { a: true, 'a@1.0.0': false })).toBe('denied');
    expect(decide(a, { b: true })).toBe('unreviewed');
    expect(decide(c, { '@s/c': false })).toBe('denied');
    expect(decide(c, { '@s/c@3.1.0': true })).toBe('allowed');
  });

  it('without a resolved URL in the lockfile, a pin cannot allow (npm cannot verify the version) but still denies', () => {
    expect(decide(d, { 'd@5.0.0': true })).toBe('unreviewed');
    expect(decide(d, { d: true })).toBe('allowed');
    expect(decide(d, { d: true, 'd@5.0.0': false })).toBe('denied');
  });

  it('ranges and tags are not decisions (npm ignores them)', () => {
    expect(() => parsePolicyKey('a@^1.0.0')).toThrow(/exact versions/);
    expect(() => parsePolicyKey('a@latest')).toThrow(/exact versions/);
    expect(unusedKeys({ 'a@1.0.0': true, 'a@2.0.0': true, gone: false }, pkgs)).toEqual(['a@2.0.0', 'gone']);
  });
});
