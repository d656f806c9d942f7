// Records routing traces by running the model over token sequences: each sequence is cut into windows of
// the context length, and each window is one prefill whose gate decisions (identical to those of a
// token-by-token decode, the model being causal) are captured per layer.
import type { RoutingTrace } from "@expertmesh/moe";
import type { LayerRouting, MoeRuntime } from "./runtime.js";

export async function recordTrace(
  rt: MoeRuntime,
  sequences: readonly (readonly number[])[],
  meta: { model?: string; source?: string } = {},
): Promise<RoutingTrace> {
  const { numLayers: L, numExperts: E, topK: k, maxPositions } = rt.config;
  const windows: number[][] = [];
  for (const s of sequences) for (let i = 0; i < s.length; i += maxPositions) windows.push(s.slice(i, i + maxPositions));
  const N = windows.reduce((a, w) => a + w.length, 0);
  const tokenIds = new Int32Array(N);
  const positions = new Int32Array(N);
  const experts = new Uint16Array(N * L * k);
  const weights = new Float32Array(N * L * k);
  const spans: { start: number; length: number }[] = [];
  let start = 0;
  for (const w of windows) {
    const routing: LayerRouting[] = [];
    await rt.step([{ sequence: rt.newSequence(), tokens: w }], { onRouting: (r) => routing.push(r) });
    for (let t = 0; t < w.length; t++) {
      tokenIds[start + t] = w[t];
      positions[start + t] = t;
      for (const r of routing) {
        const dst = ((start + t) * L + r.layer) * k;
        experts.set(r.experts.subarray(t * k, t * k + k), dst);
        weights.set(r.weights.subarray(t * k, t * k + k), dst);
      }
    }
    spans.push({ start, length: w.length });
    start += w.length;
  }
  return { numLayers: L, numExperts: E, topK: k, tokens: N, sequences: spans, tokenIds, positions, experts, weights, ...meta };
}
