// Route sets for the token scheduler: for each sequence of a window, the experts its next token will use
// (predicted or true) in every MoE layer, as bit sets, and the scheduler's objective on them.
//
// Letters (glossary: docs/ARCHITECTURE.md): W sequences in the window, L MoE layers, E experts per layer, k
// experts per token, Q = ceil(E / 32) 32-bit words per layer's set, M batches, B_m the sequences of batch m,
// S_i^l the experts of sequence i at layer l.
//
//   activated experts of a partition  A = Σ_m Σ_l |∪_{i ∈ B_m} S_i^l|   (what a step loads and runs)
//   window union                      U = Σ_l |∪_{i < W} S_i^l|           (A if the window were one batch;
//                                                                          A ≥ U for every partition)

export interface RouteSets {
  readonly count: number; // W
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly words: number; // Q
  /** [W, L, Q]: bit e of sequence i's layer-l words is set when S_i^l holds expert e. */
  readonly bits: Uint32Array;
}

/** W sequences with empty sets (a sequence whose route is unknown stays empty: it attracts no batch). */
export function emptyRouteSets(count: number, numLayers: number, numExperts: number): RouteSets {
  for (const [name, v] of [
    ["count", count],
    ["numLayers", numLayers],
    ["numExperts", numExperts],
  ] as const) {
    if (!Number.isInteger(v) || v < (name === "count" ? 0 : 1))
      throw new RangeError(`route sets: ${name}=${v} must be a ${name === "count" ? "non-negative" : "positive"} integer`);
  }
  const words = Math.ceil(numExperts / 32);
  return { count, numLayers, numExperts, words, bits: new Uint32Array(count * numLayers * words) };
}

/** Adds `experts` to the set of sequence `seq` at `layer`. */
export function addExperts(sets: RouteSets, seq: number, layer: number, experts: ArrayLike<number>): void {
  const { count: W, numLayers: L, numExperts: E, words: Q } = sets;
  if (!Number.isInteger(seq) || seq < 0 || seq >= W) throw new RangeError(`route sets: sequence ${seq} out of range (W=${W})`);
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) throw new RangeError(`route sets: layer ${layer} out of range (L=${L})`);
  const base = (seq * L + layer) * Q;
  for (let j = 0; j < experts.length; j++) {
    const e = experts[j];
    if (!Number.isInteger(e) || e < 0 || e >= E) throw new RangeError(`route sets: expert ${e} out of range (E=${E})`);
    sets.bits[base + (e >>> 5)] |= 1 << (e & 31);
  }
}

/** Route sets of W tokens' chosen experts `experts` [W, L, k] (a trace's layout). */
export function routeSetsFromChoices(
  experts: ArrayLike<number>,
  shape: { readonly count: number; readonly numLayers: number; readonly numExperts: number; readonly topK: number },
): RouteSets {
  const { count: W, numLayers: L, numExperts: E, topK: k } = shape;
  if (experts.length !== W * L * k) throw new RangeError(`route sets: ${experts.length} experts, expected W*L*k = ${W}*${L}*${k}`);
  const sets = emptyRouteSets(W, L, E);
  const one = new Array<number>(1);
  for (let i = 0; i < W; i++) {
    for (let l = 0; l < L; l++) {
      for (let j = 0; j < k; j++) {
        one[0] = experts[(i * L + l) * k + j];
        addExperts(sets, i, l, one);
      }
    }
  }
  return sets;
}

/** The experts of sequence `seq` at `layer`, ascending. */
export function setExperts(sets: RouteSets, seq: number, layer: number): number[] {
  const { numLayers: L, words: Q } = sets;
  const out: number[] = [];
  const base = (seq * L + layer) * Q;
  for (let q = 0; q < Q; q++) {
    for (let w = sets.bits[base + q]; w !== 0; w &= w - 1) out.push(q * 32 + (31 - Math.clz32(w & -w)));
  }
  return out;
}

/** Number of set bits of a 32-bit word. */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Hamming distance between the route matrices of sequences i and j: Σ_l |S_i^l △ S_j^l|. */
export function hammingDistance(sets: RouteSets, i: number, j: number): number {
  const n = sets.numLayers * sets.words;
  const a = i * n;
  const b = j * n;
  let d = 0;
  for (let x = 0; x < n; x++) d += popcount32(sets.bits[a + x] ^ sets.bits[b + x]);
  return d;
}

/** Per layer, |∪_{i ∈ members} S_i^l|: the distinct experts a batch of these sequences activates. */
export function unionPerLayer(sets: RouteSets, members: readonly number[]): number[] {
  const { numLayers: L, words: Q } = sets;
  const out = new Array<number>(L).fill(0);
  for (let l = 0; l < L; l++) {
    for (let q = 0; q < Q; q++) {
      let w = 0;
      for (const i of members) w |= sets.bits[(i * L + l) * Q + q];
      out[l] += popcount32(w);
    }
  }
  return out;
}

/** A = Σ over batches and layers of the distinct experts activated (see the top of this file). */
export function activatedExperts(sets: RouteSets, batches: readonly (readonly number[])[]): number {
  let a = 0;
  for (const b of batches) for (const u of unionPerLayer(sets, b)) a += u;
  return a;
}

/** U = Σ_l |union of the window's sets at layer l| (see the top of this file). */
export function windowUnion(sets: RouteSets): number {
  return unionPerLayer(
    sets,
    Array.from({ length: sets.count }, (_, i) => i),
  ).reduce((a, b) => a + b, 0);
}
