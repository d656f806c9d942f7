// Progress of long work (benches, loadtest, predictor training) on stderr: one line redrawn in place,
// with the elapsed time, what runs now and how far it is. Only on a terminal: when stderr is a pipe or a
// file (CI, `2> log`), or with --quiet, nothing is written. Results stay on stdout: while the line is
// shown, anything written to stdout or stderr first clears it, and it is redrawn at the next tick.
//
//   progress.stage("recording traces");  progress.count(3, 10, "files");
//
// `progress` is the running command's reporter (main.ts starts it); until then, and when quiet, its calls
// do nothing, so that code called from tests or other tools can report unconditionally.

export interface Progress {
  /** What runs now, e.g. "batch size 8"; resets the count. */
  stage(text: string): void;
  /** `done` of `total` units of the current stage (a rate-based remaining time is shown from it). */
  count(done: number, total: number, unit?: string): void;
}

/** The stream progress draws on: a terminal's `isTTY` and `columns`, and `write`. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

export interface ProgressOptions {
  readonly quiet?: boolean;
  readonly stream?: ProgressStream;
  /** Redraw interval; default 250 ms. */
  readonly intervalMs?: number;
  /** Streams whose writes clear the line first; default process.stdout and process.stderr. */
  readonly intercept?: readonly NodeJS.WriteStream[];
}

const CLEAR = "\r\x1b[K";

class NoProgress implements Progress {
  stage(): void {}
  count(): void {}
}

class TerminalProgress implements Progress {
  private readonly t0 = performance.now();
  private stageText = "";
  private stageT0 = performance.now();
  private counted: { done: number; total: number; unit: string } | undefined;
  private shown = false;
  private drawnAt = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly write: (text: string) => boolean;
  private readonly restore: (() => void)[] = [];

  constructor(
    private readonly label: string,
    private readonly stream: ProgressStream,
    private readonly intervalMs: number,
    intercept: readonly NodeJS.WriteStream[],
  ) {
    const draw = this.stream.write.bind(this.stream);
    this.write = draw;
    for (const s of intercept) {
      const original = s.write;
      // Clear the line before someone else's output; the next tick draws it again below that output.
      s.write = ((...args: Parameters<typeof original>) => {
        if (this.shown) {
          draw(CLEAR);
          this.shown = false;
        }
        return original.apply(s, args);
      }) as typeof original;
      this.restore.push(() => {
        s.write = original;
      });
    }
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  stage(text: string): void {
    this.stageText = text;
    this.stageT0 = performance.now();
    this.counted = undefined;
    this.drawIfDue();
  }

  count(done: number, total: number, unit = ""): void {
    this.counted = { done, total, unit };
    this.drawIfDue();
  }

  /** Work that holds the event loop (a training loop) never lets the timer fire: its reports draw too. */
  private drawIfDue(): void {
    if (performance.now() - this.drawnAt >= this.intervalMs) this.draw();
  }

  /** The line as drawn now (without the clearing prefix). */
  line(now = performance.now()): string {
    const parts = [this.label, `${Math.round((now - this.t0) / 1000)} s`];
    if (this.stageText) parts.push(this.stageText);
    const c = this.counted;
    if (c) {
      let text = `${c.done}/${c.total}${c.unit ? ` ${c.unit}` : ""}`;
      const spent = (now - this.stageT0) / 1000;
      if (c.done > 0 && c.done < c.total && spent >= 1) text += `, ~${Math.ceil((spent / c.done) * (c.total - c.done))} s left`;
      parts.push(text);
    }
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const line = parts.join(" · ");
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  }

  private draw(): void {
    this.write(CLEAR + this.line());
    this.shown = true;
    this.drawnAt = performance.now();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.shown) this.write(CLEAR);
    this.shown = false;
    for (const r of this.restore) r();
  }
}

let current: Progress = new NoProgress();

/** The running command's reporter (a no-op when none runs, when quiet, or off a terminal). */
export const progress: Progress = {
  stage: (text) => current.stage(text),
  count: (done, total, unit) => current.count(done, total, unit),
};

/**
 * Starts the line for `label` when the stream is a terminal and not quiet; returns its stop (clears the
 * line and puts stdout/stderr back). Used by main.ts around a long command, and by the tests.
 */
export function startProgress(label: string, o: ProgressOptions = {}): { stop: () => void; line?: () => string } {
  const stream = o.stream ?? process.stderr;
  if (o.quiet || !stream.isTTY) {
    current = new NoProgress();
    return { stop: () => {} };
  }
  const p = new TerminalProgress(label, stream, o.intervalMs ?? 250, o.intercept ?? [process.stdout, process.stderr]);
  current = p;
  return {
    stop: () => {
      p.stop();
      if (current === p) current = new NoProgress();
    },
    line: () => p.line(),
  };
}
