// The trainer's folders under WORK_DIR: one per lease, `<job or evaluation id>-attempt-<n>`, holding the images of the
// job in hand and its checkpoints. Several workers may share WORK_DIR (the default when it is not set), so each folder
// names its owner (`owner.json`: host and pid) and a worker removes only its own — at the end of the lease, or, for a
// process that died mid-lease (SIGKILL, OOM), the next time a worker on the same host starts (sweepDeadFolders).
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const OWNER_FILE = 'owner.json';
const LEASE_FOLDER = /^[A-Za-z0-9_]+-attempt-\d+$/;

interface Owner {
  host: string;
  pid: number;
}

/** The lease's folder, made empty and marked as this process's. */
export function leaseFolder(workDir: string, id: string, attempt: number): string {
  const dir = join(workDir, `${id}-attempt-${attempt}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ host: hostname(), pid: process.pid } satisfies Owner));
  return dir;
}

/** Whether a process of this host with that pid is running (signal 0 checks without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, owned by another user
  }
}

/**
 * Removes the lease folders under `workDir` whose owner was a process of this host that is no longer running; keeps
 * those of running processes and of other hosts (a shared volume), and anything that is not a lease folder.
 * Returns the names removed.
 */
export function sweepDeadFolders(workDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(workDir);
  } catch {
    return []; // no WORK_DIR yet
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => LEASE_FOLDER.test(n))) {
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(workDir, name, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue; // being made right now, or not ours to judge
    }
    if (owner.host !== hostname() || !Number.isInteger(owner.pid) || owner.pid === process.pid || alive(owner.pid)) continue;
    rmSync(join(workDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
