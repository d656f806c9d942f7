// Helpers for the cache tests: hand-made and seeded random routing traces.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, L MoE layers, E experts per layer, k experts per token.
import type { TraceRouting } from "./cache-access.js";
export { seededRandom as seeded } from "./seeded-random.js";

/** N tokens in `sequences` equal sequences (default 1), each choosing k distinct experts per layer: `pick(n, l)`. */
export function makeTrace(
  shape: { tokens: number; numLayers: number; numExperts: number; topK: number; sequences?: number },
  pick: (n: number, l: number) => number[],
): TraceRouting {
  const { tokens: N, numLayers: L, numExperts: E, topK: k } = shape;
  const experts = new Uint16Array(N * L * k);
  for (let n = 0; n < N; n++) {
    for (let l = 0; l < L; l++) {
      const chosen = pick(n, l);
      if (chosen.length !== k || new Set(chosen).size !== k || chosen.some((e) => e < 0 || e >= E))
        throw new RangeError(`makeTrace: bad choice [${chosen}]`);
      experts.set(chosen, (n * L + l) * k);
    }
  }
  const q = shape.sequences ?? 1;
  if (N % q !== 0) throw new RangeError(`makeTrace: ${N} tokens do not split into ${q} equal sequences`);
  const sequences = Array.from({ length: q }, (_, i) => ({ start: (i * N) / q, length: N / q }));
  return { tokens: N, numLayers: L, numExperts: E, topK: k, sequences, experts };
}

/** k distinct experts of E drawn at random. */
export function randomChoice(rand: () => number, E: number, k: number): number[] {
  const out: number[] = [];
  while (out.length < k) {
    const e = Math.floor(rand() * E);
    if (!out.includes(e)) out.push(e);
  }
  return out;
}
