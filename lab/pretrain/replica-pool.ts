// Data-parallel pretraining on the machine's cores: TF.js's wasm backend is single-threaded in Node,
// so each replica runs in its own worker thread. Per step every replica computes gradients on its own
// batch, the pool averages them, and every replica applies the average (identical weights everywhere).
// With one replica everything runs in-process.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ClipConfig } from '../../gpu-worker/clip/config.ts';
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import { ClipTokenizer } from '../../gpu-worker/clip/tokenizer.ts';
import { PretrainReplica, type ReplicaOptions } from './replica.ts';

export type ReplicaRequest =
  | { type: 'gradients' }
  | { type: 'apply'; grads: Float32Array[]; lr: number }
  | { type: 'accuracy' }
  | { type: 'logitScale' }
  | { type: 'weights' };

interface Replica {
  gradients(): Promise<{ loss: number; grads: Float32Array[] }>;
  apply(grads: Float32Array[], lr: number): Promise<void>;
  accuracy(): Promise<number>;
  logitScale(): Promise<number>;
  weights(): Promise<Map<string, HostTensor>>;
  close(): Promise<void>;
}

const BOOTSTRAP = fileURLToPath(new URL('../../bin/ts-thread.mjs', import.meta.url));
const ENTRY = pathToFileURL(fileURLToPath(new URL('./replica-thread.ts', import.meta.url))).href;

class WorkerReplica implements Replica {
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(private readonly worker: Worker) {}

  static async start(cfg: ClipConfig, init: Map<string, HostTensor>, vocabDir: string, options: ReplicaOptions): Promise<WorkerReplica> {
    const worker = new Worker(BOOTSTRAP, { workerData: { entry: ENTRY, cfg, init: [...init], vocabDir, options } });
    const r = new WorkerReplica(worker);
    await r.next();
    return r;
  }

  private next<T>(): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { ok: boolean; value?: T; error?: string }) => {
        this.worker.off('error', onError);
        if (m.ok) resolve(m.value as T);
        else reject(new Error(`pretraining replica: ${m.error}`));
      };
      const onError = (e: Error) => {
        this.worker.off('message', onMessage);
        reject(e);
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', onError);
    });
  }

  private request<T>(req: ReplicaRequest): Promise<T> {
    const run = this.queue.then(() => {
      const reply = this.next<T>();
      this.worker.postMessage(req);
      return reply;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  gradients() {
    return this.request<{ loss: number; grads: Float32Array[] }>({ type: 'gradients' });
  }
  async apply(grads: Float32Array[], lr: number) {
    await this.request({ type: 'apply', grads, lr });
  }
  accuracy() {
    return this.request<number>({ type: 'accuracy' });
  }
  logitScale() {
    return this.request<number>({ type: 'logitScale' });
  }
  async weights() {
    return new Map(await this.request<[string, HostTensor][]>({ type: 'weights' }));
  }
  async close() {
    await this.worker.terminate();
  }
}

class LocalReplica implements Replica {
  constructor(
    private readonly r: PretrainReplica,
    private readonly cfg: ClipConfig,
  ) {}
  gradients() {
    return this.r.gradients();
  }
  async apply(grads: Float32Array[], lr: number) {
    this.r.apply(grads, lr);
  }
  accuracy() {
    return this.r.accuracy(this.cfg);
  }
  logitScale() {
    return this.r.logitScale();
  }
  weights() {
    return this.r.model.toHfTensors();
  }
  async close() {
    this.r.dispose();
  }
}

export class ReplicaPool {
  private constructor(private readonly replicas: Replica[]) {}

  /** `options[i]` configures replica i; one replica runs in-process, more run in worker threads. */
  static async start(cfg: ClipConfig, init: Map<string, HostTensor>, vocabDir: string, options: ReplicaOptions[]): Promise<ReplicaPool> {
    if (options.length === 1) {
      return new ReplicaPool([new LocalReplica(new PretrainReplica(cfg, init, ClipTokenizer.fromDir(vocabDir), options[0]), cfg)]);
    }
    return new ReplicaPool(await Promise.all(options.map((o) => WorkerReplica.start(cfg, init, vocabDir, o))));
  }

  get size(): number {
    return this.replicas.length;
  }

  /** One data-parallel step; returns the mean loss over the replicas' batches. */
  async step(lr: number): Promise<number> {
    const results = await Promise.all(this.replicas.map((r) => r.gradients()));
    let grads = results[0].grads;
    if (results.length > 1) {
      grads = grads.map((g, i) => {
        const avg = new Float32Array(g.length);
        for (const r of results) {
          const x = r.grads[i];
          for (let k = 0; k < avg.length; k++) avg[k] += x[k];
        }
        for (let k = 0; k < avg.length; k++) avg[k] /= results.length;
        return avg;
      });
    }
    await Promise.all(this.replicas.map((r) => r.apply(grads, lr)));
    return results.reduce((a, r) => a + r.loss, 0) / results.length;
  }

  accuracy(): Promise<number> {
    return this.replicas[0].accuracy();
  }
  logitScale(): Promise<number> {
    return this.replicas[0].logitScale();
  }
  weights(): Promise<Map<string, HostTensor>> {
    return this.replicas[0].weights();
  }
  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.close()));
  }
}
