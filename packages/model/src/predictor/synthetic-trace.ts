// A synthetic routing trace for tests of predictors (no model needed).
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token.
import type { RoutingTrace } from "@expertmesh/moe";

/** A routing trace with skewed, seeded random routing: experts with low ids are chosen more often. */
export function syntheticTrace(options: {
  tokens: number;
  numLayers: number;
  numExperts: number;
  topK: number;
  seed?: number;
}): RoutingTrace {
  const { tokens: T, numLayers: L, numExperts: E, topK: k } = options;
  let s = options.seed ?? 7;
  const random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const experts = new Uint16Array(T * L * k); // [T, L, k]
  for (let row = 0; row < T * L; row++) {
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(Math.floor(E * random() ** 2));
    experts.set([...chosen], row * k);
  }
  return {
    numLayers: L,
    numExperts: E,
    topK: k,
    tokens: T,
    sequences: [{ start: 0, length: T }],
    tokenIds: Int32Array.from({ length: T }, () => Math.floor(random() * 4096)),
    positions: Int32Array.from({ length: T }, (_, t) => t),
    experts,
    weights: new Float32Array(T * L * k).fill(1 / k),
    source: "synthetic",
  };
}
