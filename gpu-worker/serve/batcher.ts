// An adaptive micro-batcher: items submitted under the same key are run together in one call (up to `maxBatch`
// units, e.g. images), and each caller gets its own slice back. When nothing is running, a batch starts on the next
// turn of the event loop (it collects only what arrived together: no added latency for a lone request); while a
// batch runs, new items wait for it to finish (or for `maxWaitMs`, whichever is first) and then go together — so
// batches grow with the load by themselves.
export interface MicroBatcherOptions<T, R> {
  /** Largest total size of one batch (sum of `size(item)`); an item larger than this runs alone. */
  maxBatch: number;
  /** Longest wait of a batch's first item while another batch runs (ms). An idle batcher does not wait. */
  maxWaitMs: number;
  /** Runs one batch; must return exactly one result per item, in order. */
  run: (key: string, items: T[]) => Promise<R[]>;
  /** The size of one item (default 1). */
  size?: (item: T) => number;
  /** Called once per batch run with its item count and total size (metrics). */
  onBatch?: (items: number, size: number) => void;
}

interface Pending<T, R> {
  items: T[];
  size: number;
  waiters: { resolve: (r: R) => void; reject: (e: unknown) => void }[];
  cancel: () => void;
}

export class MicroBatcher<T, R> {
  private readonly open = new Map<string, Pending<T, R>>();
  private readonly size: (item: T) => number;
  private running = 0;

  constructor(private readonly opts: MicroBatcherOptions<T, R>) {
    if (!(opts.maxBatch >= 1) || !(opts.maxWaitMs >= 0)) throw new Error('MicroBatcher: maxBatch must be ≥ 1 and maxWaitMs ≥ 0');
    this.size = opts.size ?? (() => 1);
  }

  submit(key: string, item: T): Promise<R> {
    const n = this.size(item);
    let batch = this.open.get(key);
    if (batch && batch.size + n > this.opts.maxBatch) {
      this.flush(key);
      batch = undefined;
    }
    if (!batch) {
      const created: Pending<T, R> = { items: [], size: 0, waiters: [], cancel: () => {} };
      if (this.running === 0) {
        const t = setImmediate(() => this.flush(key, created));
        created.cancel = () => clearImmediate(t);
      } else {
        const t = setTimeout(() => this.flush(key, created), this.opts.maxWaitMs);
        created.cancel = () => clearTimeout(t);
      }
      batch = created;
      this.open.set(key, batch);
    }
    const b = batch;
    const result = new Promise<R>((resolve, reject) => b.waiters.push({ resolve, reject }));
    b.items.push(item);
    b.size += n;
    if (b.size >= this.opts.maxBatch) this.flush(key);
    return result;
  }

  private flush(key: string, only?: Pending<T, R>): void {
    const batch = this.open.get(key);
    if (!batch || (only && batch !== only)) return;
    this.open.delete(key);
    batch.cancel();
    this.opts.onBatch?.(batch.items.length, batch.size);
    void this.execute(key, batch);
  }

  private async execute(key: string, batch: Pending<T, R>): Promise<void> {
    this.running++;
    try {
      const results = await this.opts.run(key, batch.items);
      if (results.length !== batch.items.length) throw new Error(`batch run returned ${results.length} results for ${batch.items.length} items`);
      batch.waiters.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
    } finally {
      this.running--;
      // What queued up behind the busy period goes now.
      if (this.running === 0) for (const k of [...this.open.keys()]) this.flush(k);
    }
  }
}
