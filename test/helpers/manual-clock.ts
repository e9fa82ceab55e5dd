// A clock tests move by hand (EdgeConfig.clock, edge/clock.ts): time passes with advance(), never by sleeping.
import type { Clock } from '../../edge/clock.ts';

export class ManualClock {
  private ms: number;

  /** Starts at `start` (default: the real time when made, so rows it stamps sort among the others). */
  constructor(start: Date | number = Date.now()) {
    this.ms = typeof start === 'number' ? start : start.getTime();
  }

  /** The function to pass as `clock` (bound, so it can be handed around). */
  readonly now: Clock = () => new Date(this.ms);

  advance(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`ManualClock.advance: ${ms} is not a non-negative duration`);
    this.ms += ms;
  }
}

/**
 * Real time plus an offset the test moves: for a stack whose own steps stamp rows with the real time (so its clock
 * must keep flowing), where the test still needs a long wait (a retry an hour later) to pass at once.
 */
export class ShiftedClock {
  private offsetMs = 0;

  readonly now: Clock = () => new Date(Date.now() + this.offsetMs);

  advance(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`ShiftedClock.advance: ${ms} is not a non-negative duration`);
    this.offsetMs += ms;
  }
}
