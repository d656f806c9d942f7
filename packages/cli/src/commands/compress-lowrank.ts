// expertmesh compress lowrank --model DIR --out DIR [--rank R] [--sparse-columns C]
//   [--traces T... | --text FILE] [--max-tokens N] [--json]
// MC-SMoE's "compress" step, training-free: every stored expert weight (of a merged checkpoint, typically)
// as an activation-scaled rank-R factor plus its C most important residual input columns (structured
// sparsity), fitted on calibration tokens; stored in packages/model/src/quant/lowrank-layout.ts's layout,
// which the runtime computes factored. Defaults: R = min(D, F) / 4, C = min(D, F) / 8.
import { calibrate, checkLowRankable, CompressError, lowRankCheckpoint } from "@expertmesh/compress";
import { numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { calibrationFlags, calibrationTokens } from "./compress-text.js";

export async function compressLowRankCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    ...calibrationFlags,
    out: { type: "string" },
    rank: { type: "string" },
    "sparse-columns": { type: "string" },
    json: { type: "boolean" },
  });
  if (v.out === undefined) throw new UsageError("--out is required");
  const nonNegative = (x: number) => Number.isInteger(x) && x >= 0;
  const rt = await loadModel(v);
  try {
    const { hiddenSize: D, intermediateSize: F } = rt.config;
    const opts = {
      rank: numberFlag("rank", v.rank, Math.floor(Math.min(D, F) / 4), nonNegative, "an integer >= 0"),
      sparseColumns: numberFlag("sparse-columns", v["sparse-columns"], Math.floor(Math.min(D, F) / 8), nonNegative, "an integer >= 0"),
    };
    const t0 = performance.now();
    let report;
    let source;
    try {
      checkLowRankable(rt.checkpoint, opts); // before the calibration run: bad input fails at once
      const tokens = calibrationTokens(rt, v);
      source = tokens.source;
      report = lowRankCheckpoint(rt.checkpoint, await calibrate(rt, tokens.sequences), v.out, opts);
    } catch (e) {
      if (e instanceof CompressError) throw new UsageError(e.message);
      throw e;
    }
    const { numLayers: L, numExperts: E } = rt.config;
    const f32 = L * E * 3 * D * F * 4;
    const out = {
      model: rt.checkpoint.dir,
      out: v.out,
      source,
      rank: opts.rank,
      sparse_columns: opts.sparseColumns,
      expert_bytes: report.expertBytes,
      stored_f32_expert_bytes: report.storedF32Bytes,
      bytes_saved: 1 - report.expertBytes / f32,
      seconds: (performance.now() - t0) / 1000,
    };
    if (v.json) {
      console.log(JSON.stringify(out));
      return;
    }
    console.log(`${v.out}: experts as rank ${opts.rank} plus ${opts.sparseColumns} residual columns (statistics of ${source})`);
    console.log(
      `  expert bytes ${out.expert_bytes} (stored experts were ${out.stored_f32_expert_bytes} in f32; ${(out.bytes_saved * 100).toFixed(1)} % saved against all ${L * E} f32 experts), ${out.seconds.toFixed(1)} s`,
    );
  } finally {
    await rt.release();
  }
}
