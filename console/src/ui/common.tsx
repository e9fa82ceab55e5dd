// Small pieces every page uses: loading a resource, showing an error, a two-step confirmation, status badges, bars.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type Problem, handleError } from '../errors.ts';

export interface Loaded<T> {
  data: T | null;
  problem: Problem | null;
  loading: boolean;
  reload(): void;
}

/** Runs `load` on mount and whenever `deps` change (and on reload()); a newer run's answer wins. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; problem: Problem | null; loading: boolean }>({ data: null, problem: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, problem: null, loading: false }),
      (err: unknown) => !controller.signal.aborted && setState({ data: null, problem: handleError(err), loading: false }),
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function ErrorNote({ problem, title }: { problem: Problem | null; title?: string }) {
  if (!problem) return null;
  return (
    <div class="error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {problem.message}
      {problem.param ? <span class="param"> (field: <code>{problem.param}</code>)</span> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** A button that asks first: the question and its two answers replace it until one is chosen. */
export function ConfirmButton(props: { label: string; question: string; confirmLabel: string; onConfirm: () => Promise<void> | void; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const startRef = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  // Focus follows the question: to its answer when asked, back to the button when it is dismissed.
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
    else if (asked.current) startRef.current?.focus();
    asked.current = asking;
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class="danger confirm-start" ref={startRef} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={props.question}>
      <span>{props.question}</span>{' '}
      <button
        type="button"
        class="danger"
        ref={confirmRef}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {props.confirmLabel}
      </button>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

const STATUS_KIND: Record<string, string> = {
  open: 'neutral',
  ready: 'good',
  queued: 'neutral',
  running: 'busy',
  cancelling: 'busy',
  pending: 'busy',
  succeeded: 'good',
  failed: 'bad',
  cancelled: 'neutral',
  enabled: 'good',
  disabled: 'bad',
  active: 'good',
  revoked: 'bad',
  expired: 'bad',
};

/** A status as a word and a colour (the word carries it; the colour only helps). */
export function Status({ status }: { status: string }) {
  return <span class={`status status-${STATUS_KIND[status] ?? 'neutral'}`}>{status}</span>;
}

/** A horizontal bar for a fraction in [0, 1], drawn as SVG (no style attributes), with its value as text beside it. */
export function Bar({ fraction, kind, label }: { fraction: number; kind: 'adapted' | 'zero-shot' | 'progress'; label: string }) {
  const width = Math.max(0, Math.min(1, fraction)) * 100;
  return (
    <span class="bar">
      <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
        <rect class="bar-track" x="0" y="0" width="100" height="10" />
        <rect class={`bar-${kind}`} x="0" y="0" width={width} height="10" />
      </svg>
      <span class="bar-value">{label}</span>
    </span>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** A detail page's top: the way back to its list, then its title. */
export function DetailHeader({ back, backTitle, titleClass, children }: { back: string; backTitle: string; titleClass?: string; children: ComponentChildren }) {
  return (
    <>
      <p class="crumbs">
        <a href={back}>{backTitle}</a> /
      </p>
      <h1 class={titleClass}>{children}</h1>
    </>
  );
}
