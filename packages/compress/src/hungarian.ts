// The assignment problem (Hungarian method, O(n^3) with row/column potentials and shortest augmenting
// paths): the permutation p of 0..n-1 that maximises Σ_i score[i][p[i]]. MC-SMoE aligns the neurons of
// experts with it before averaging them.
//
// Letters (glossary: docs/ARCHITECTURE.md): n rows = columns.

/** score [n, n] row-major; returns p [n] with p[i] the column given to row i. */
export function maxAssignment(score: Float64Array | Float32Array, n: number): Int32Array {
  if (score.length !== n * n) throw new RangeError(`maxAssignment: ${score.length} scores for n=${n}`);
  // Minimise cost = -score. 1-based arrays as in the classic formulation; row 0 / column 0 are sentinels.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const rowOf = new Int32Array(n + 1); // rowOf[j]: row assigned to column j (0 = none)
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOf[j0];
      let delta = Infinity;
      let j1 = 0;
      const base = (i0 - 1) * n - 1;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = -score[base + j] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[rowOf[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    do {
      const j1 = way[j0];
      rowOf[j0] = rowOf[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const p = new Int32Array(n);
  for (let j = 1; j <= n; j++) p[rowOf[j] - 1] = j - 1;
  return p;
}
