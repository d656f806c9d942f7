// The reliability suite's table: one row per fault (what was done, what must happen, what happened, how
// long it took) and whether it held. Printed by `make test-reliability` and by the short suite's test.

export interface ReliabilityRow {
  readonly fault: string;
  readonly expected: string;
  readonly observed: string;
  /** Wall time of the scenario (or of the measured part), milliseconds. */
  readonly timeMs: number;
  readonly ok: boolean;
}

/** A plain-text table; a failed row is marked FAIL. */
export function reliabilityTable(rows: readonly ReliabilityRow[]): string {
  const cells = rows.map((r) => [r.ok ? "ok" : "FAIL", r.fault, r.expected, r.observed, `${(r.timeMs / 1000).toFixed(1)} s`]);
  const head = ["", "fault", "expected", "observed", "time"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** Nearest-rank percentile of `xs` (p in [0, 100]); NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
