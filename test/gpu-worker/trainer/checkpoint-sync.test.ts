// Checkpoints between the local folder and the blob store: one upload at a time under the keys of
// shared/storage/keys.ts with the latest pointer after it, a failed upload logged and tried again, nothing after a
// lost lease, and a resume that fetches what the pointer names.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointKey, latestCheckpointPointerKey } from '../../../shared/storage/keys.ts';
import { checkpointPath } from '../../../gpu-worker/cocoop/checkpoint.ts';
import { CheckpointSync } from '../../../gpu-worker/trainer/checkpoint-sync.ts';
import { JobStop } from '../../../gpu-worker/trainer/job-stop.ts';
import { useTmpDir } from '../../helpers/tmp.ts';

const PREFIX = 'tenants/t/jobs/job_1/attempts/3/checkpoints/';
/** The earlier attempts' prefixes, newest first. */
const EARLIER = ['tenants/t/jobs/job_1/attempts/2/checkpoints/', 'tenants/t/jobs/job_1/attempts/1/checkpoints/'];

function memoryBlobs() {
  const objects = new Map<string, { body: Uint8Array; type: string }>();
  let failPuts = 0;
  return {
    objects,
    failNextPuts(n: number) {
      failPuts = n;
    },
    async put(key: string, body: Uint8Array, type: string) {
      if (failPuts > 0) {
        failPuts--;
        throw new Error('S3 is down');
      }
      objects.set(key, { body: new Uint8Array(body), type });
    },
    async get(key: string) {
      return objects.get(key)?.body ?? null;
    },
    async delete(keys: string[]) {
      for (const k of keys) objects.delete(k);
    },
  };
}

describe('CheckpointSync', () => {
  const tmp = useTmpDir('ckpt-sync-');

  function setup(name: string) {
    const dir = join(tmp, name);
    const blobs = memoryBlobs();
    const logs: string[] = [];
    const uploaded: number[] = [];
    const stop = new JobStop('job_1');
    const sync = new CheckpointSync({ jobId: 'job_1', blobs, prefix: PREFIX, resumePrefixes: EARLIER, dir, stop, log: (l) => logs.push(l), afterUpload: (e) => void uploaded.push(e) });
    const write = (epoch: number, text: string) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(checkpointPath(dir, epoch), text);
    };
    return { dir, blobs, logs, uploaded, stop, sync, write };
  }

  it('uploads the newest checkpoint and then the pointer; one upload at a time; nothing older again', async () => {
    const { blobs, logs, uploaded, sync, write } = setup('upload');
    write(1, 'one');
    sync.uploadNewest();
    write(2, 'two');
    sync.uploadNewest(); // skipped: an upload runs
    await sync.settle();
    expect(uploaded).toEqual([1]);
    sync.uploadNewest();
    await sync.settle();
    sync.uploadNewest(); // nothing newer
    await sync.settle();
    expect(uploaded).toEqual([1, 2]);
    expect(sync.uploadedEpoch).toBe(2);
    expect([...blobs.objects.keys()]).toEqual([checkpointKey(PREFIX, 1), latestCheckpointPointerKey(PREFIX), checkpointKey(PREFIX, 2)]);
    expect(checkpointKey(PREFIX, 2)).toBe(`${PREFIX}epoch-0002.ckpt.safetensors`);
    expect(latestCheckpointPointerKey(PREFIX)).toBe(`${PREFIX}latest.json`);
    const pointer = blobs.objects.get(latestCheckpointPointerKey(PREFIX))!;
    expect(JSON.parse(new TextDecoder().decode(pointer.body))).toEqual({ epoch: 2, key: checkpointKey(PREFIX, 2) });
    expect(pointer.type).toBe('application/json');
    expect(new TextDecoder().decode(blobs.objects.get(checkpointKey(PREFIX, 2))!.body)).toBe('two');
    expect(logs).toEqual(['job job_1: uploaded the checkpoint of epoch 1', 'job job_1: uploaded the checkpoint of epoch 2']);
  });

  it('a failed upload is logged and tried again; nothing is uploaded after the lease is lost', async () => {
    const { blobs, logs, sync, write, stop } = setup('failing');
    write(1, 'one');
    blobs.failNextPuts(1);
    sync.uploadNewest();
    await sync.settle();
    expect(logs).toEqual(['job job_1: checkpoint upload failed: S3 is down']);
    expect(sync.uploadedEpoch).toBe(0);
    sync.uploadNewest();
    await sync.settle();
    expect(sync.uploadedEpoch).toBe(1);
    write(2, 'two');
    stop.stop('lease_lost');
    sync.uploadNewest();
    await sync.settle();
    expect(sync.uploadedEpoch).toBe(1);
    expect(blobs.objects.has(checkpointKey(PREFIX, 2))).toBe(false);
  });

  const putCheckpoint = async (blobs: ReturnType<typeof memoryBlobs>, prefix: string, epoch: number, text: string) => {
    await blobs.put(checkpointKey(prefix, epoch), new TextEncoder().encode(text), 'application/octet-stream');
    await blobs.put(latestCheckpointPointerKey(prefix), new TextEncoder().encode(JSON.stringify({ epoch, key: checkpointKey(prefix, epoch) })), 'application/json');
  };

  it('resume: fetches the checkpoint an earlier attempt\'s pointer names; none, or a broken pointer, starts over', async () => {
    const a = setup('resume-a');
    await putCheckpoint(a.blobs, EARLIER[0], 3, 'three');
    expect(await a.sync.fetchLatest()).toBe(3);
    expect(readFileSync(checkpointPath(a.dir, 3), 'utf8')).toBe('three');
    expect(a.sync.uploadedEpoch).toBe(3);

    const b = setup('resume-b');
    expect(await b.sync.fetchLatest()).toBeNull();
    await b.blobs.put(latestCheckpointPointerKey(EARLIER[1]), new TextEncoder().encode('{"epoch":"x"}'), 'application/json');
    expect(await b.sync.fetchLatest()).toBeNull();
    expect(b.logs).toEqual([`job job_1: could not fetch the latest checkpoint (the checkpoint pointer under ${EARLIER[1]} is not {epoch, key}); starting over`]);
    expect(b.sync.uploadedEpoch).toBe(0);
  });

  it('resume: the newest checkpoint among the earlier attempts (a superseded attempt may have trained further); never its own prefix', async () => {
    const c = setup('resume-c');
    await putCheckpoint(c.blobs, EARLIER[0], 2, 'attempt 2, epoch 2');
    await putCheckpoint(c.blobs, EARLIER[1], 5, 'attempt 1, epoch 5');
    await putCheckpoint(c.blobs, PREFIX, 9, 'not an earlier attempt');
    expect(await c.sync.fetchLatest()).toBe(5);
    expect(readFileSync(checkpointPath(c.dir, 5), 'utf8')).toBe('attempt 1, epoch 5');
  });
});
