// gpu-worker/trainer/work-folders.ts: a lease's folder is made empty and names its owner; the start-up sweep removes
// exactly the lease folders whose owner was a process of this host that has exited — not a running process's (this
// one's or another's), not another host's, not anything else in WORK_DIR.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leaseFolder, sweepDeadFolders } from '../../../gpu-worker/trainer/work-folders.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const tmp = useTmpDir('work-folders-');
const running = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
afterAll(() => void running.kill('SIGKILL'));

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function folderOf(workDir: string, name: string, owner: unknown): void {
  mkdirSync(join(workDir, name, 'data'), { recursive: true });
  writeFileSync(join(workDir, name, 'data', 'img.png'), 'x');
  writeFileSync(join(workDir, name, 'owner.json'), JSON.stringify(owner));
}

describe('lease folders', () => {
  it("leaseFolder empties the lease's folder and names this process as its owner", () => {
    const workDir = join(tmp, 'make');
    folderOf(workDir, 'job_a-attempt-2', { host: 'elsewhere', pid: 1 });
    const dir = leaseFolder(workDir, 'job_a', 2);
    expect(dir).toBe(join(workDir, 'job_a-attempt-2'));
    expect(readdirSync(dir)).toEqual(['owner.json']);
    expect(JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8'))).toEqual({ host: hostname(), pid: process.pid });
    expect(leaseFolder(workDir, 'job_a', 3)).not.toBe(dir); // another attempt, another folder
    expect(existsSync(dir)).toBe(true);
  });

  it("the sweep removes only the folders of this host's exited processes", () => {
    const workDir = join(tmp, 'sweep');
    const dead = deadPid();
    folderOf(workDir, 'job_dead-attempt-1', { host: hostname(), pid: dead });
    folderOf(workDir, 'eval_dead-attempt-3', { host: hostname(), pid: dead });
    folderOf(workDir, 'job_running-attempt-1', { host: hostname(), pid: running.pid });
    folderOf(workDir, 'job_mine-attempt-1', { host: hostname(), pid: process.pid });
    folderOf(workDir, 'job_other_host-attempt-1', { host: `${hostname()}-other`, pid: dead });
    mkdirSync(join(workDir, 'job_no_owner-attempt-1')); // being made: no owner file yet
    mkdirSync(join(workDir, 'graphs')); // not a lease folder
    expect(sweepDeadFolders(workDir).sort()).toEqual(['eval_dead-attempt-3', 'job_dead-attempt-1']);
    expect(readdirSync(workDir).sort()).toEqual(['graphs', 'job_mine-attempt-1', 'job_no_owner-attempt-1', 'job_other_host-attempt-1', 'job_running-attempt-1']);
  });

  it('the sweep of a WORK_DIR that does not exist yet removes nothing', () => {
    expect(sweepDeadFolders(join(tmp, 'absent'))).toEqual([]);
  });
});
