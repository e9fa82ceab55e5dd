// Progress on stderr. On a terminal: one status line redrawn in place (a bar, counts, rate, ETA), with notes printed
// above it. Elsewhere (a pipe, a log file, CI): no control characters; callers print plain lines at coarse steps.
export class StatusLine {
  private shown = '';

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** A line of its own (above the status line on a terminal). */
  note(text: string): void {
    if (this.shown) this.stream.write('\r\x1b[2K');
    this.stream.write(`${text}\n`);
    if (this.shown) this.stream.write(this.shown);
  }

  /** Replaces the status line (terminal only; does nothing elsewhere). */
  update(text: string): void {
    if (!this.isTTY) return;
    const width = this.stream.columns ? this.stream.columns - 1 : 120;
    this.shown = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.stream.write(`\r\x1b[2K${this.shown}`);
  }

  /** Ends the status line (it stays on screen). */
  done(): void {
    if (this.shown) this.stream.write('\n');
    this.shown = '';
  }
}

export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function percent(fraction: number): string {
  return `${Math.floor(Math.max(0, Math.min(1, fraction)) * 100)}%`;
}

/** Prints in plain mode each time the fraction enters a new tenth (and at 100%): a few lines for any length of work. */
export class PlainSteps {
  private last = -1;

  due(fraction: number): boolean {
    const tenth = Math.floor(Math.max(0, Math.min(1, fraction)) * 10);
    if (tenth === this.last) return false;
    this.last = tenth;
    return true;
  }
}
