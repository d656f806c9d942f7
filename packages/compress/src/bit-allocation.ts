// Exact bit allocation (MC-MoE's pre-loading mixed precision, PMQ): choose one width per expert so that
// the total cost Σ_i c[i][b_i] is smallest while the mean width is at most the budget. All experts have
// the same number of weights, so the budget is Σ_i b_i <= floor(avgBits · n). The integer program is
// solved exactly by dynamic programming over the running sum of widths (n · max width states per item).
//
// Letters (glossary: docs/ARCHITECTURE.md): n experts to allocate (L·E), W widths (this file's meaning).

export interface Allocation {
  /** [n] the chosen width of each expert. */
  bits: number[];
  cost: number;
  meanBits: number;
}

/** cost[i][w] is expert i's cost at widths[w]. Throws when even the smallest width exceeds the budget. */
export function allocateBits(cost: readonly (readonly number[])[], widths: readonly number[], avgBits: number): Allocation {
  const n = cost.length;
  if (widths.length === 0 || widths.some((b) => !Number.isInteger(b) || b <= 0))
    throw new RangeError(`allocateBits: widths must be positive integers, got [${widths}]`);
  if (cost.some((row) => row.length !== widths.length)) throw new RangeError(`allocateBits: every cost row needs ${widths.length} entries`);
  const budget = Math.floor(avgBits * n + 1e-9);
  const minW = Math.min(...widths);
  if (minW * n > budget) throw new RangeError(`average of ${avgBits} bits is below the smallest width ${minW}`);
  const cap = Math.min(budget, Math.max(...widths) * n);
  // best[s] = least cost of the items so far with width sum exactly s; choice[i][s] = width index taken.
  let best = new Float64Array(cap + 1).fill(Infinity);
  best[0] = 0;
  const choice: Int8Array[] = [];
  for (let i = 0; i < n; i++) {
    const next = new Float64Array(cap + 1).fill(Infinity);
    const pick = new Int8Array(cap + 1).fill(-1);
    for (let s = 0; s <= cap; s++) {
      if (best[s] === Infinity) continue;
      for (let w = 0; w < widths.length; w++) {
        const t = s + widths[w];
        if (t > cap) continue;
        const c = best[s] + cost[i][w];
        if (c < next[t]) {
          next[t] = c;
          pick[t] = w;
        }
      }
    }
    choice.push(pick);
    best = next;
  }
  let end = 0;
  for (let s = 1; s <= cap; s++) if (best[s] < best[end]) end = s;
  const bits = new Array<number>(n);
  for (let i = n - 1, s = end; i >= 0; i--) {
    const w = choice[i][s];
    bits[i] = widths[w];
    s -= widths[w];
  }
  return { bits, cost: best[end], meanBits: bits.reduce((a, b) => a + b, 0) / n };
}
