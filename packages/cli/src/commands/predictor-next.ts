// expertmesh predictor next --traces FILE... --out FILE.onnx [--pseudo-count 2] [--json]
//
// The next-step table of routing traces (packages/moe predictor-next.ts) as an ONNX predictor model: for
// the token now decoded, the predicted routing of the token after it (metadata predicts=next-step).
// ExpertFlow's eviction reads it for the experts whose next use is in the next decode step; `bench cache`
// finds predictor-next.onnx beside the model (or --next-predictor FILE). Build it from traces of training
// text only.
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { buildNextStepModel } from "@expertmesh/model";
import { buildNextStepTable } from "@expertmesh/moe";
import { numberFlag, parseFlags, UsageError } from "../args.js";
import { readTraces, takeList } from "./predictor-traces.js";

export async function nextCommand(argv: string[]): Promise<void> {
  const [traceFiles, rest] = takeList(argv, "--traces");
  const v = parseFlags(rest, { out: { type: "string" }, "pseudo-count": { type: "string" }, json: { type: "boolean" } });
  if (v.out === undefined) throw new UsageError("--out is required");
  const pseudo = numberFlag("pseudo-count", v["pseudo-count"], 2, (x) => x > 0 && x <= 1e6, "a number in (0, 1000000]");
  const traces = readTraces(traceFiles);
  for (const { file, trace } of traces) {
    if (trace.tokenIds.some((t) => t < 0))
      throw new UsageError(`--traces ${file}: the trace has no token ids (imported without "token_id")`);
  }
  let table: ReturnType<typeof buildNextStepTable>;
  try {
    table = buildNextStepTable(
      traces.map((t) => t.trace),
      pseudo,
    );
  } catch (e) {
    throw new UsageError(`--traces: ${(e as Error).message}`);
  }
  const source = traces.map(({ file, trace }) => `${basename(file)}${trace.source ? ` (from ${basename(trace.source)})` : ""}`).join(", ");
  const model = buildNextStepModel(table, { source, pseudo });
  writeFileSync(v.out, model);
  const summary = {
    out: v.out,
    kind: "next-step-table",
    predicts: "next-step",
    pairs: table.pairs,
    vocab: table.vocab,
    num_layers: table.numLayers,
    num_experts: table.numExperts,
    top_k: table.topK,
    pseudo_count: pseudo,
    traces: traceFiles,
    bytes: model.length,
  };
  if (v.json) console.log(JSON.stringify(summary));
  else
    console.log(
      `wrote ${v.out}: next-step table of ${table.pairs} (token, successor) pairs, ${table.vocab} token ids, ${table.numLayers} x ${table.numExperts} (top-${table.topK}), pseudo-count ${pseudo}; ${model.length} bytes`,
    );
}
