// Bootstrap of a thread (node:worker_threads) that runs a TypeScript module: new Worker(thisFile, { workerData: { entry: fileUrl, ... } }).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
