// MC-SMoE's M-SMoE (arXiv 2310.01334) for one MoE layer: keep the K most frequently activated experts as
// dominant, put every other expert in the group of the dominant expert whose router logits are most
// similar (cosine of logit columns), align each member's FFN neurons to its dominant expert by weight
// matching (a permutation of the F neurons maximising Σ <neuron of dominant, neuron of member>, each
// neuron being its w1 row, w3 row and w2 column; Hungarian), then average each group weighted by the
// members' activation frequencies. Permuting the F neurons of a SwiGLU expert does not change it.
// Frequency pruning (the baseline) keeps the same K experts and drops the rest.
//
// Letters: E experts, K kept, D hidden size, F expert hidden size.
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
