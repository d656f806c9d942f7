// The "gate of the previous layer applied ahead" baseline (Pre-gated MoE's idea, without its fine-tuning):
// layer l's experts are predicted one layer early, by applying layer l's post-attention RMSNorm and gate
// to the input of layer l-1's MoE block (the residual after layer l-1's attention), which is known while
// layer l-1's experts run. Layer 0 has no earlier layer: its gate is applied to the token's embedding
// (the hidden state entering layer 0, before its attention).
//
//   pre[l] = topk(Wg_l · rmsnorm(r_{l-1}; w_l)),  r_{-1} = embedding[token]
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, L MoE layers, E experts per layer, k experts per token, D
// hidden size.
import { route, type RoutingTrace } from "@expertmesh/moe";
import type { MoeRuntime } from "./runtime.js";

/** Layer l's gate as a function of a hidden state: weights [E, D] and RMSNorm weight [D]. */
interface LayerGate {
  readonly gate: Float32Array; // [E, D]
  readonly norm: Float32Array; // [D]
  readonly bias?: Float32Array; // [E] selection bias, where the family's gate has one
}

/** Gate logits [N, E] of `g` applied to `x` [N, D] (RMSNorm with `eps`, then the gate). */
export function applyGate(g: LayerGate, x: Float32Array, D: number, E: number, eps: number): Float32Array {
  const N = x.length / D;
  const out = new Float32Array(N * E);
  const xn = new Float32Array(D);
  for (let n = 0; n < N; n++) {
    let ms = 0;
    for (let d = 0; d < D; d++) ms += x[n * D + d] * x[n * D + d];
    const inv = 1 / Math.sqrt(ms / D + eps);
    for (let d = 0; d < D; d++) xn[d] = x[n * D + d] * inv * g.norm[d];
    for (let e = 0; e < E; e++) {
      let z = 0;
      for (let d = 0; d < D; d++) z += g.gate[e * D + d] * xn[d];
      out[n * E + e] = z;
    }
  }
  return out;
}

/**
 * The pre-gate predictions [N, L, k] for the tokens of `trace`, by running `rt` over the trace's sequences
 * (each one prefill, as the trace was recorded). Checks that `rt` routes the trace as recorded: a trace of
 * another model's routing is refused.
 */
export async function preGatePredictions(
  rt: MoeRuntime,
  trace: RoutingTrace,
  options: { signal?: AbortSignal } = {},
): Promise<Uint16Array> {
  const c = rt.config;
  const { numLayers: L, numExperts: E, topK: k, hiddenSize: D } = c;
  if (trace.numLayers !== L || trace.numExperts !== E || trace.topK !== k) {
    throw new RangeError(
      `preGatePredictions: the trace has L=${trace.numLayers} E=${trace.numExperts} k=${trace.topK}, the model L=${L} E=${E} k=${k}`,
    );
  }
  const ckpt = rt.checkpoint;
  const gates: LayerGate[] = Array.from({ length: L }, (_, l) => ({
    gate: ckpt.gateWeights(l),
    norm: ckpt.tensor(ckpt.adapter.postAttentionNorm(ckpt.decoderLayer(l)), [D]),
    bias: ckpt.gateBias(l),
  }));
  const embed = ckpt.tensor(ckpt.adapter.embedTokens, [c.vocabSize, D]);
  const out = new Uint16Array(trace.tokens * L * k); // [N, L, k]
  let differ = 0;
  for (const { start, length } of trace.sequences) {
    if (length === 0) continue;
    const tokens = Array.from(trace.tokenIds.subarray(start, start + length));
    const write = (layer: number, logits: Float32Array) => {
      const chosen = route(logits, E, k, c.gate, gates[layer].bias).experts; // [S, k]
      for (let s = 0; s < length; s++) for (let j = 0; j < k; j++) out[((start + s) * L + layer) * k + j] = chosen[s * k + j];
    };
    const x0 = new Float32Array(length * D);
    tokens.forEach((t, s) => {
      x0.set(embed.subarray(t * D, (t + 1) * D), s * D);
    });
    write(0, applyGate(gates[0], x0, D, E, c.rmsNormEps));
    await rt.step([{ sequence: rt.newSequence(), tokens }], {
      signal: options.signal,
      onMoeInput: ({ layer, residual }) => {
        if (layer + 1 < L) write(layer + 1, applyGate(gates[layer + 1], residual, D, E, c.rmsNormEps));
      },
      onRouting: ({ layer, experts }) => {
        for (let s = 0; s < length; s++) {
          const base = ((start + s) * L + layer) * k;
          for (let j = 0; j < k; j++) if (trace.experts[base + j] !== experts[s * k + j]) differ++;
        }
      },
    });
  }
  // Recording and this run are the same computation; a few near-ties may flip across runs, no more.
  if (differ > 0.01 * trace.experts.length) {
    throw new RangeError(
      `preGatePredictions: the model routes ${((100 * differ) / trace.experts.length).toFixed(1)} % of the trace's choices differently: the trace was recorded with other weights`,
    );
  }
  return out;
}
