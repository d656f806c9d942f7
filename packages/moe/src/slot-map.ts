// Gate slots of a compressed checkpoint (MC-SMoE merging, frequency pruning): the gate keeps its E logits,
// and a slot map says which stored expert each slot uses. map[e] = m: slot e is computed by the stored
// expert in slot m (m = e for a kept or dominant expert, a group's dominant for a merged one); map[e] = -1:
// slot e was pruned, its logit is masked so that the gate never chooses it.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, E gate slots, k experts per token.

export const PRUNED_SLOT = -1;

/** Sets the logits [N, E] of pruned slots to -Infinity in place. */
export function maskPrunedSlots(logits: Float32Array, map: readonly number[]): void {
  const E = map.length;
  const N = logits.length / E;
  for (let e = 0; e < E; e++) {
    if (map[e] !== PRUNED_SLOT) continue;
    for (let t = 0; t < N; t++) logits[t * E + e] = -Infinity;
  }
}

/** Replaces the chosen slots [N, k] by the stored experts that compute them, in place. */
export function mapSlots(experts: Int32Array, map: readonly number[]): void {
  for (let i = 0; i < experts.length; i++) {
    const m = map[experts[i]];
    if (m === PRUNED_SLOT) throw new RangeError(`slot ${experts[i]} is pruned but was chosen`);
    experts[i] = m;
  }
}
