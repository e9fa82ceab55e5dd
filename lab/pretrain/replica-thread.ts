// Worker-thread side of a pretraining replica (see replica-pool.ts): one request at a time.
import { parentPort, workerData } from 'node:worker_threads';
import type { ClipConfig } from '../../gpu-worker/clip/config.ts';
import type { HostTensor } from '../../gpu-worker/clip/safetensors.ts';
import { ClipTokenizer } from '../../gpu-worker/clip/tokenizer.ts';
import { initTfBackend } from '../../gpu-worker/runtime/tf-backend.ts';
import { PretrainReplica, type ReplicaOptions } from './replica.ts';
import type { ReplicaRequest } from './replica-pool.ts';

interface Init {
  cfg: ClipConfig;
  init: [string, HostTensor][];
  vocabDir: string;
  options: ReplicaOptions;
}

const data = workerData as Init;
await initTfBackend({ prefer: 'wasm', log: () => {} });
const replica = new PretrainReplica(data.cfg, new Map(data.init), ClipTokenizer.fromDir(data.vocabDir), data.options);
const port = parentPort!;
port.on('message', async (req: ReplicaRequest) => {
  try {
    switch (req.type) {
      case 'gradients': {
        const r = await replica.gradients();
        port.postMessage({ ok: true, value: r }, r.grads.map((g) => g.buffer as ArrayBuffer));
        break;
      }
      case 'apply':
        replica.apply(req.grads, req.lr);
        port.postMessage({ ok: true, value: null });
        break;
      case 'accuracy':
        port.postMessage({ ok: true, value: await replica.accuracy(data.cfg) });
        break;
      case 'logitScale':
        port.postMessage({ ok: true, value: await replica.logitScale() });
        break;
      case 'weights':
        port.postMessage({ ok: true, value: [...(await replica.model.toHfTensors())] });
        break;
    }
  } catch (e) {
    port.postMessage({ ok: false, error: (e as Error).stack ?? String(e) });
  }
});
port.postMessage({ ok: true, value: 'ready' });
