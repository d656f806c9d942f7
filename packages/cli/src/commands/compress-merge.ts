// expertmesh compress merge --model DIR --experts-per-layer K --out DIR [--method merge|prune|replace]
//   [--grouping layer|global] [--no-align] [--traces T... | --text FILE] [--max-tokens N] [--json]
// MC-SMoE's M-SMoE: K dominant experts per layer by activation frequency, the others grouped with them by
// router-logit similarity, neurons aligned by permutation, frequency-weighted averages. --method prune is
// the baseline: keep the same K experts, mask the others' gate logits; --method replace sends the others'
// slots to their group's dominant expert unchanged. --grouping global: the paper's adaptive merging ratio
// (K experts per layer on average, the dominant experts chosen by frequency across layers).
import { calibrate, checkMergeable, CompressError, mergeCheckpoint, REDUCE_METHODS, type ReduceMethod } from "@expertmesh/compress";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { calibrationFlags, calibrationTokens } from "./compress-text.js";

export async function compressMergeCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    ...calibrationFlags,
    "experts-per-layer": { type: "string" },
    out: { type: "string" },
    method: { type: "string" },
    grouping: { type: "string" },
    "no-align": { type: "boolean" },
    json: { type: "boolean" },
  });
  if (v.out === undefined) throw new UsageError("--out is required");
  if (v["experts-per-layer"] === undefined) throw new UsageError("--experts-per-layer is required");
  const K = numberFlag("experts-per-layer", v["experts-per-layer"], 0, isPositiveInt, "a positive integer");
  const method = (v.method ?? "merge") as ReduceMethod;
  if (!REDUCE_METHODS.includes(method))
    throw new UsageError(`--method must be one of ${REDUCE_METHODS.join(", ")}, got ${JSON.stringify(v.method)}`);
  const grouping = v.grouping ?? "layer";
  if (grouping !== "layer" && grouping !== "global")
    throw new UsageError(`--grouping must be layer or global, got ${JSON.stringify(v.grouping)}`);
  const rt = await loadModel(v);
  try {
    const t0 = performance.now();
    let report;
    let source;
    try {
      checkMergeable(rt.checkpoint, K);
      const tokens = calibrationTokens(rt, v);
      source = tokens.source;
      const { stats } = await calibrate(rt, tokens.sequences, { samplesPerExpert: 0 });
      report = mergeCheckpoint(rt.checkpoint, stats, v.out, { expertsPerLayer: K, method, grouping, align: !v["no-align"] });
    } catch (e) {
      if (e instanceof CompressError) throw new UsageError(e.message);
      throw e;
    }
    const seconds = (performance.now() - t0) / 1000;
    const saved = 1 - report.expertBytes / report.f32ExpertBytes;
    if (v.json) {
      console.log(
        JSON.stringify({
          model: rt.checkpoint.dir,
          out: v.out,
          source,
          method,
          experts_per_layer: K,
          grouping,
          stored_experts: report.dominant.map((d) => d.length),
          collapse: report.collapse,
          dominant: report.dominant,
          expert_slot_map: report.slotMap,
          expert_bytes: report.expertBytes,
          f32_expert_bytes: report.f32ExpertBytes,
          bytes_saved: saved,
          seconds,
        }),
      );
      return;
    }
    const verb = { merge: "merged", prune: "pruned", replace: "replaced" }[method];
    console.log(`${v.out}: ${verb} to ${K} experts per layer${grouping === "global" ? " on average" : ""} (statistics of ${source})`);
    report.slotMap.forEach((row, l) => {
      console.log(
        `  layer ${l}: slot -> expert ${row.map((m, e) => `${e}:${m < 0 ? "-" : m}`).join(" ")}` +
          (method === "prune" ? "" : `  (${(report.collapse[l] * 100).toFixed(1)} % of tokens pick two slots of one group)`),
      );
    });
    console.log(
      `  expert bytes ${report.expertBytes} of ${report.f32ExpertBytes} (${(saved * 100).toFixed(1)} % saved), ${seconds.toFixed(1)} s`,
    );
  } finally {
    await rt.release();
  }
}
