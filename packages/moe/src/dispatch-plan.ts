// Groups the tokens of one MoE layer by expert: which rows each expert computes, with which weights.
// The combine step sums w * expert(x) back into each token's row.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, k experts per token, D hidden size.

export interface ExpertGroup {
  expert: number;
  /** Token rows (0..N-1) routed to this expert, ascending. */
  rows: Int32Array;
  /** Gate weight of this expert for each row. */
  weights: Float32Array;
}

/** Groups `experts`/`weights` ([N, k], from `gate`) by expert id, experts in ascending order; ids < 0 (skipped by dynamic pruning) go nowhere. */
export function planDispatch(experts: Int32Array, weights: Float32Array, k: number): ExpertGroup[] {
  const byExpert = new Map<number, { rows: number[]; weights: number[] }>();
  for (let i = 0; i < experts.length; i++) {
    const e = experts[i];
    if (e < 0) continue;
    let g = byExpert.get(e);
    if (!g) byExpert.set(e, (g = { rows: [], weights: [] }));
    g.rows.push(Math.floor(i / k));
    g.weights.push(weights[i]);
  }
  return [...byExpert.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([expert, g]) => ({ expert, rows: Int32Array.from(g.rows), weights: Float32Array.from(g.weights) }));
}

/** Copies rows `rows` of `x` [N, D] into a new [rows.length, D] array. */
export function gatherRows(x: Float32Array, rows: Int32Array, D: number): Float32Array {
  const out = new Float32Array(rows.length * D);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray(rows[i] * D, rows[i] * D + D), i * D);
  return out;
}

/** out[rows[i]] += weights[i] * y[i], for y [rows.length, D]. */
export function scatterAddWeighted(out: Float32Array, y: Float32Array, group: ExpertGroup, D: number): void {
  const { rows, weights } = group;
  for (let i = 0; i < rows.length; i++) {
    const w = weights[i];
    const o = rows[i] * D;
    const s = i * D;
    for (let d = 0; d < D; d++) out[o + d] += w * y[s + d];
  }
}
