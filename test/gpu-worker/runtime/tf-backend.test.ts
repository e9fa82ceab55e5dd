// The TF.js backend choice when the native backends are installed without their addon (their install
// script is denied in package.json allowScripts): they are reported unusable without being imported,
// so choosing a backend prints one line, not one "already registered" warning per kernel.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddonProblem } from '../../../gpu-worker/runtime/tf-backend.ts';
import { REPO_ROOT } from '../../helpers/cli.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const tmp = useTmpDir('tf-backend-');

describe('native TF.js backend availability', () => {
  it('absent package, package without addon, package with addon', () => {
    expect(nativeAddonProblem(null)).toBe('not installed');
    const bare = join(tmp, 'bare');
    mkdirSync(join(bare, 'lib', 'napi-v8'), { recursive: true });
    expect(nativeAddonProblem(bare)).toMatch(/without its native addon/);
    const built = join(tmp, 'built');
    mkdirSync(join(built, 'lib', 'napi-v8'), { recursive: true });
    writeFileSync(join(built, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
    expect(nativeAddonProblem(built)).toBeNull();
  });

  it('auto choice in this install: one log line, no kernel re-registration warnings', async () => {
    const script = join(tmp, 'pick.mts');
    writeFileSync(
      script,
      `import { initTfBackend } from ${JSON.stringify(join(REPO_ROOT, 'gpu-worker/runtime/tf-backend.ts'))};\n` +
        'const info = await initTfBackend();\nprocess.stdout.write(JSON.stringify(info));\n',
    );
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((done, fail) =>
      execFile(process.execPath, [join(REPO_ROOT, 'bin/run-ts.mjs'), script], { cwd: REPO_ROOT, env: { ...process.env, COCOOP_TF_BACKEND: '' } }, (err, out, errOut) =>
        err ? fail(new Error(`${err.message}\n${errOut}`)) : done({ stdout: String(out), stderr: String(errOut) }),
      ),
    );
    expect(JSON.parse(stdout).backend).toMatch(/^(tensorflow|wasm)$/);
    expect(stderr).not.toMatch(/already registered/);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tfjs backend: /)]);
  }, 60_000);
});
