// One user action against the API: while it runs it is busy; its failure becomes a problem to show (cleared on the next try).
import { useState } from 'preact/hooks';
import { type Problem, handleError } from '../errors.ts';

export interface Action {
  problem: Problem | null;
  setProblem(problem: Problem | null): void;
  busy: boolean;
  /** Clears the problem, runs `work`, and keeps its error as the problem. */
  run(work: () => Promise<unknown>): Promise<void>;
}

export function useAction(): Action {
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
    } catch (err) {
      setProblem(handleError(err));
    } finally {
      setBusy(false);
    }
  };
  return { problem, setProblem, busy, run };
}
