// Why a job stops before its end, decided by whoever comes first: a cancel request (a heartbeat's answer), a lost
// lease (a 409 from the edge) or the trainer stopping. Aborting `signal` stops training within one step.
export type StopReason = 'cancel' | 'lease_lost' | 'stop';

export class JobStop {
  private current: StopReason | null = null;
  private readonly controller = new AbortController();

  constructor(private readonly jobId: string) {}

  get reason(): StopReason | null {
    return this.current;
  }

  /** Aborted at the first stop(). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The first reason wins; later calls change nothing. */
  stop(why: StopReason): void {
    if (this.current) return;
    this.current = why;
    this.controller.abort(new Error(`job ${this.jobId}: ${why}`));
  }
}
