// Every tensor of a checkpoint of any supported family, listed from its normalised config and adapter:
// the same names and shapes the runtime reads (graphs/, checkpoint.ts), so a synthesised checkpoint has
// exactly what a real one has. Norm weights are ones; everything else is drawn with the given std.
//
// Letters (glossary: docs/ARCHITECTURE.md): V vocabulary, D hidden, H heads, K kv heads, Dh head dim, Dv value
// head dim, E experts, F expert hidden, R kv_lora_rank, Rq q_lora_rank, Dn/Dr nope/rope head dims.
import { adapterFor } from "../adapters/index.js";
import type { MoeConfig } from "../config.js";
import type { SynthTensor } from "./synth-family.js";

export function checkpointTensors(c: MoeConfig, std: number): SynthTensor[] {
  const a = adapterFor(c.architecture);
  const { vocabSize: V, hiddenSize: D, numHeads: H, numKvHeads: K, headDim: Dh, numExperts: E, intermediateSize: F } = c;
  const w = (name: string, ...shape: number[]): SynthTensor => ({ name, shape, init: { kind: "uniform", std } });
  const ones = (name: string, n: number): SynthTensor => ({ name, shape: [n], init: { kind: "ones" } });
  const mlp = (name: (x: "w1" | "w2" | "w3") => string, f: number) => [w(name("w1"), f, D), w(name("w3"), f, D), w(name("w2"), D, f)];
  const out: SynthTensor[] = [w(a.embedTokens, V, D), ones(a.finalNorm, D)];
  if (!c.tieWordEmbeddings) out.push(w(a.lmHead(c), V, D));
  for (let l = 0; l < c.numHiddenLayers; l++) {
    out.push(ones(a.inputNorm(l), D), ones(a.postAttentionNorm(l), D));
    const at = c.attention;
    if (at.kind === "gqa") {
      out.push(
        w(a.attention(l, "q_proj"), H * Dh, D),
        w(a.attention(l, "k_proj"), K * Dh, D),
        w(a.attention(l, "v_proj"), K * Dh, D),
        w(a.attention(l, "o_proj"), D, H * Dh),
      );
      if (at.qkvBias)
        out.push(
          w(a.attention(l, "q_proj", "bias"), H * Dh),
          w(a.attention(l, "k_proj", "bias"), K * Dh),
          w(a.attention(l, "v_proj", "bias"), K * Dh),
        );
      if (at.outputBias) out.push(w(a.attention(l, "o_proj", "bias"), D));
      if (at.qkNorm === "head") out.push(ones(a.attention(l, "q_norm"), Dh), ones(a.attention(l, "k_norm"), Dh));
      if (at.qkNorm === "projection") out.push(ones(a.attention(l, "q_norm"), H * Dh), ones(a.attention(l, "k_norm"), K * Dh));
    } else {
      const { qLoraRank: Rq, kvLoraRank: R, nopeDim: Dn, ropeDim: Dr, valueDim: Vd, bias } = at;
      if (Rq == null) out.push(w(a.attention(l, "q_proj"), H * (Dn + Dr), D));
      else
        out.push(
          w(a.attention(l, "q_a_proj"), Rq, D),
          ones(a.attention(l, "q_a_layernorm"), Rq),
          w(a.attention(l, "q_b_proj"), H * (Dn + Dr), Rq),
        );
      out.push(w(a.attention(l, "kv_a_proj_with_mqa"), R + Dr, D), ones(a.attention(l, "kv_a_layernorm"), R));
      out.push(w(a.attention(l, "kv_b_proj"), H * (Dn + Vd), R), w(a.attention(l, "o_proj"), D, H * Vd));
      if (bias) {
        if (Rq != null) out.push(w(a.attention(l, "q_a_proj", "bias"), Rq));
        out.push(w(a.attention(l, "kv_a_proj_with_mqa", "bias"), R + Dr), w(a.attention(l, "o_proj", "bias"), D));
      }
    }
    if (!c.moeLayers.includes(l)) {
      out.push(...mlp((x) => a.denseMlp(l, x), c.denseIntermediateSize));
      continue;
    }
    out.push(w(a.gate(l), E, D));
    if (c.gate.selectionBias) out.push(w(a.gateBias!(l), E));
    if (c.sharedExperts) {
      out.push(...mlp((x) => a.sharedExpert!(l, x), c.sharedExperts.intermediateSize));
      if (c.sharedExperts.gated) out.push(w(a.sharedExpertGate!(l), 1, D));
    }
    for (let e = 0; e < E; e++) out.push(...mlp((x) => a.expert(l, e, x), F));
  }
  return out;
}
