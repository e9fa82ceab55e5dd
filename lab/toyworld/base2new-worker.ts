// A worker process of the base-to-new benchmark (started by process-pool.ts):
//   node bin/run-ts.mjs lab/toyworld/base2new-worker.ts MODEL_DIR THREADS WORK_DIR
// Loads the model once, then runs the jobs it is sent (base2new-jobs.ts) one at a time; THREADS = 0
// leaves ONNX Runtime's thread count at its default. WORK_DIR is this process's own scratch folder,
// made and removed by the pool.
import { loadClipModel } from '../../gpu-worker/clip/model.ts';
import { OrtClipEncoders } from '../../gpu-worker/clip/ort-encoders.ts';
import { createJobContext, runJob, type Base2NewJob, type Base2NewJobResult } from './base2new-jobs.ts';
import type { PoolReply, PoolRequest } from './process-pool.ts';

const [modelDir, threadsArg, workDir] = process.argv.slice(2);
const threads = Number(threadsArg) || undefined;
const model = loadClipModel(modelDir);
const encoders = new OrtClipEncoders(model, threads ? { threads, log: () => {} } : { log: () => {} });
const ctx = createJobContext(model, encoders, workDir, threads, (line) => console.log(line));
const reply = (m: PoolReply<Base2NewJobResult>) => process.send!(m);

process.on('message', (msg: PoolRequest<Base2NewJob>) => {
  runJob(ctx, msg.job).then(
    (result) => reply({ id: msg.id, result }),
    (e: unknown) => reply({ id: msg.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
process.on('disconnect', () => {
  void encoders.release().finally(() => process.exit(0));
});
