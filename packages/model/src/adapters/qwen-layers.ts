// Qwen2-MoE and Qwen3-MoE choose MoE layers the same way (Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer
// __init__): layer i is sparse when i is not in mlp_only_layers, num_experts > 0 and
// (i + 1) % decoder_sparse_step == 0; otherwise it is a dense MLP of intermediate_size.
import type { ConfigReader } from "./config-reader.js";

export function qwenMoeLayers(r: ConfigReader, numHiddenLayers: number): number[] {
  const only = r.intList("mlp_only_layers");
  const step = r.int("decoder_sparse_step", 1);
  const layers: number[] = [];
  for (let i = 0; i < numHiddenLayers; i++) if (!only.includes(i) && (i + 1) % step === 0) layers.push(i);
  if (layers.length === 0)
    r.fail("mlp_only_layers", "leaves no MoE layer (decoder_sparse_step and mlp_only_layers make every layer dense)");
  return layers;
}

/** The experts of a Qwen or OLMoE config: num_experts and num_experts_per_tok. */
export function readExperts(r: ConfigReader): { numExperts: number; topK: number } {
  const numExperts = r.int("num_experts");
  const topK = r.int("num_experts_per_tok");
  if (topK > numExperts) r.fail("num_experts_per_tok", `${topK} exceeds num_experts ${numExperts}`);
  return { numExperts, topK };
}

export function refuseSlidingWindow(r: ConfigReader): void {
  if (r.raw.use_sliding_window === true) r.fail("use_sliding_window", "sliding-window attention is not supported");
}
