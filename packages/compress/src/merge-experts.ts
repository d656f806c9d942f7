// MC-SMoE's M-SMoE (arXiv 2310.01334) for one MoE layer: keep the K most frequently activated experts as
// dominant, put every other expert in the group of the dominant expert whose router logits are most
// similar (cosine of logit columns), align each member's FFN neurons to its dominant expert by weight
// matching (a permutation of the F neurons maximising Σ <neuron of dominant, neuron of member>, each
// neuron being its w1 row, w3 row and w2 column; Hungarian), then average each group weighted by the
// members' activation frequencies. Permuting the F neurons of a SwiGLU expert does not change it.
// Frequency pruning (the baseline) keeps the same K experts and drops the rest.
// The paper's adaptive layer-wise merging ratio (the reference's `globally_group`) chooses the dominant
// experts of all layers at once, by frequency across layers, so that K is the average per layer: a layer
// whose use concentrates on few experts keeps fewer (layerCounts).
//
// Letters (glossary: docs/ARCHITECTURE.md): E experts, K kept (merging's meaning), D hidden size, F expert
// hidden size.
import type { ExpertWeights } from "@expertmesh/model";
import { maxAssignment } from "./hungarian.js";

export interface LayerGrouping {
  /** [K] the dominant experts, most frequent first. */
  dominant: number[];
  /** [E] the dominant expert of each expert's group. */
  group: number[];
}

export function groupExperts(frequency: readonly number[], similarity: readonly (readonly number[])[], K: number): LayerGrouping {
  const E = frequency.length;
  if (!(Number.isInteger(K) && K >= 1 && K <= E)) throw new RangeError(`experts per layer must be in 1..${E}, got ${K}`);
  const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => frequency[b] - frequency[a] || a - b);
  const dominant = order.slice(0, K);
  const group = Array.from({ length: E }, (_, e) => {
    if (dominant.includes(e)) return e;
    let best = dominant[0];
    for (const d of dominant) if (similarity[e][d] > similarity[e][best]) best = d;
    return best;
  });
  return { dominant, group };
}

/**
 * Dominant experts per layer when K is the average over L layers (the paper's adaptive merging ratio): the
 * L·K most frequent (layer, expert) pairs of all layers, each layer keeping at least `min` (the reference
 * keeps at least 1: it sets a layer's most frequent expert to frequency 1; a pruned top-k layer needs k).
 * Frequencies are compared as shares of their layer's activations, ties broken by layer then expert.
 */
export function layerCounts(frequency: readonly (readonly number[])[], K: number, min = 1): number[] {
  const L = frequency.length;
  const E = frequency[0]?.length ?? 0;
  if (!(Number.isInteger(K) && K >= min && K <= E)) throw new RangeError(`experts per layer must be in ${min}..${E}, got ${K}`);
  const counts = new Array<number>(L).fill(min);
  const rest: { f: number; l: number; rank: number }[] = [];
  frequency.forEach((row, l) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const sorted = [...row].sort((a, b) => b - a);
    for (let rank = min; rank < E; rank++) rest.push({ f: sorted[rank] / total, l, rank });
  });
  rest.sort((a, b) => b.f - a.f || a.l - b.l || a.rank - b.rank);
  // Taking a layer's rank-r expert before its rank-(r-1) one cannot happen: its frequency is no larger.
  for (const x of rest.slice(0, L * K - L * min)) counts[x.l]++;
  return counts;
}

/** Share of a layer's tokens whose chosen experts include two of one group (they get one expert fewer). */
export function groupCollapse(group: readonly number[], coSelection: readonly (readonly number[])[]): number {
  let s = 0;
  for (let i = 0; i < group.length; i++) for (let j = i + 1; j < group.length; j++) if (group[i] === group[j]) s += coSelection[i][j];
  return s;
}

/** p [F]: neuron p[i] of `member` goes to position i, aligned with neuron i of `ref`. */
export function alignNeurons(ref: ExpertWeights, member: ExpertWeights, D: number, F: number): Int32Array {
  const score = new Float64Array(F * F);
  for (let i = 0; i < F; i++) {
    for (let j = 0; j < F; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        s += ref.w1[i * D + d] * member.w1[j * D + d] + ref.w3[i * D + d] * member.w3[j * D + d] + ref.w2[d * F + i] * member.w2[d * F + j];
      }
      score[i * F + j] = s;
    }
  }
  return maxAssignment(score, F);
}

export function permuteNeurons(w: ExpertWeights, p: Int32Array, D: number, F: number): ExpertWeights {
  const w1 = new Float32Array(F * D);
  const w3 = new Float32Array(F * D);
  const w2 = new Float32Array(D * F);
  for (let i = 0; i < F; i++) {
    w1.set(w.w1.subarray(p[i] * D, p[i] * D + D), i * D);
    w3.set(w.w3.subarray(p[i] * D, p[i] * D + D), i * D);
    for (let d = 0; d < D; d++) w2[d * F + i] = w.w2[d * F + p[i]];
  }
  return { w1, w3, w2 };
}

/** The frequency-weighted average of a group's experts, each aligned to the first (the dominant). */
export function mergeGroup(
  members: readonly ExpertWeights[],
  frequency: readonly number[],
  D: number,
  F: number,
  align = true,
): ExpertWeights {
  const total = frequency.reduce((a, b) => a + b, 0);
  const weights = total > 0 ? frequency.map((f) => f / total) : frequency.map(() => 1 / frequency.length);
  const out = { w1: new Float32Array(F * D), w3: new Float32Array(F * D), w2: new Float32Array(D * F) };
  members.forEach((m, i) => {
    const a = i === 0 || !align ? m : permuteNeurons(m, alignNeurons(members[0], m, D, F), D, F);
    for (const k of ["w1", "w3", "w2"] as const) {
      const dst = out[k];
      const src = a[k];
      for (let x = 0; x < dst.length; x++) dst[x] += weights[i] * src[x];
    }
  });
  return out;
}
