// expertmesh compress stats --model DIR (--traces T... | --text FILE) [--max-tokens N] [--json]: per layer and
// expert, activation frequency, mean routing weight and router-logit similarity on calibration tokens.
import { calibrate } from "@expertmesh/compress";
import { parseFlags } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { calibrationFlags, calibrationTokens } from "./compress-text.js";

export async function compressStatsCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, { ...modelFlags, ...calibrationFlags, json: { type: "boolean" } });
  const rt = await loadModel(v);
  try {
    const { sequences, source } = calibrationTokens(rt, v);
    const { stats } = await calibrate(rt, sequences, { samplesPerExpert: 0 });
    if (v.json) {
      console.log(
        JSON.stringify({
          model: rt.checkpoint.dir,
          source,
          tokens: stats.tokens,
          num_layers: stats.numLayers,
          num_experts: stats.numExperts,
          top_k: stats.topK,
          layers: stats.layers.map((l) => ({
            layer: l.layer,
            frequency: l.frequency,
            mean_weight: l.meanWeight,
            logit_similarity: l.logitSimilarity,
          })),
        }),
      );
      return;
    }
    console.log(`${rt.checkpoint.dir}: ${stats.tokens} tokens of ${source}`);
    const f = (x: number) => x.toFixed(3);
    for (const l of stats.layers) {
      console.log(`layer ${l.layer}`);
      console.log(`  expert     ${l.frequency.map((_, e) => String(e).padStart(6)).join("")}`);
      console.log(`  frequency  ${l.frequency.map((x) => f(x).padStart(6)).join("")}`);
      console.log(`  weight     ${l.meanWeight.map((x) => f(x).padStart(6)).join("")}`);
      const sim = l.logitSimilarity;
      if (sim) {
        const nearest = sim.map((row, e) => row.reduce((b, x, j) => (j !== e && (b < 0 || x > row[b]) ? j : b), -1));
        console.log(`  most similar router logits: ${nearest.map((j, e) => `${e}~${j} (${f(sim[e][j])})`).join(" ")}`);
      }
    }
  } finally {
    await rt.release();
  }
}
