// Final RMSNorm and LM head:  x [N, D] -> logits [N, V].
import type { Checkpoint } from "../checkpoint.js";
import { GraphBuilder } from "../onnx/graph-builder.js";
import { rmsNorm } from "./rms-norm.js";

/** Adds the final norm and LM head to `g`: rows `x` [N, D] -> logits [N, V]. */
export function addHead(g: GraphBuilder, ckpt: Checkpoint, x: string): string {
  const { hiddenSize: D, vocabSize: V, rmsNormEps } = ckpt.config;
  const xn = rmsNorm(g, x, g.initializer("final_norm", ckpt.tensor(ckpt.adapter.finalNorm, [D]), [D]), rmsNormEps);
  const head = g.initializer("lm_head", ckpt.tensor(ckpt.adapter.lmHead(ckpt.config), [V, D]), [V, D]);
  return g.op("Gemm", [xn, head], { transB: 1 });
}

export function buildHeadGraph(ckpt: Checkpoint): Uint8Array {
  const { hiddenSize: D, vocabSize: V } = ckpt.config;
  const g = new GraphBuilder("head");
  const x = g.input("x", "float32", ["N", D]);
  g.output(addHead(g, ckpt, x), "logits", "float32", ["N", V]);
  return g.build();
}
