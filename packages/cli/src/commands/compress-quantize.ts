// expertmesh compress quantize --model DIR --avg-bits B --out DIR [--bits 2,4,8] [--uniform B] [--group-size G] [--rounding rtn|gptq]
//   [--allocation global|layer]
//   [--traces T... | --text FILE] [--max-tokens N] [--json]
// MC-MoE's pre-loading mixed precision: per-expert widths by an exact solver over importance × measured error
// on calibration tokens of the training split, experts stored in the MatMulNBits layout (see
// packages/model/src/quant/nbits-layout.ts).
import { calibrate, checkQuantizable, CompressError, quantizeCheckpoint, type Rounding } from "@expertmesh/compress";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { calibrationFlags, calibrationTokens } from "./compress-text.js";

export async function compressQuantizeCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    ...calibrationFlags,
    "avg-bits": { type: "string" },
    out: { type: "string" },
    bits: { type: "string" },
    uniform: { type: "string" },
    "group-size": { type: "string" },
    rounding: { type: "string" },
    allocation: { type: "string" },
    json: { type: "boolean" },
  });
  if (v.out === undefined) throw new UsageError("--out is required");
  const uniform = v.uniform === undefined ? undefined : numberFlag("uniform", v.uniform, 0, isPositiveInt, "a positive integer");
  if (v["avg-bits"] === undefined && uniform === undefined) throw new UsageError("--avg-bits is required (or --uniform B)");
  const avgBits = numberFlag("avg-bits", v["avg-bits"], uniform ?? 0, (x) => x > 0, "a positive number");
  const widths =
    v.bits === undefined
      ? undefined
      : v.bits.split(",").map((s) => numberFlag("bits", s, 0, isPositiveInt, "a comma-separated list of positive integers"));
  const rounding = (v.rounding ?? "rtn") as Rounding;
  if (rounding !== "rtn" && rounding !== "gptq") throw new UsageError(`--rounding must be rtn or gptq, got ${JSON.stringify(v.rounding)}`);
  const allocation = v.allocation ?? "global";
  if (allocation !== "global" && allocation !== "layer")
    throw new UsageError(`--allocation must be global or layer, got ${JSON.stringify(v.allocation)}`);
  const groupSize = numberFlag("group-size", v["group-size"], 32, isPositiveInt, "a positive integer");
  const rt = await loadModel(v);
  try {
    const opts = { avgBits, widths, groupSize, uniform, rounding, allocation } as const;
    const t0 = performance.now();
    let report;
    try {
      checkQuantizable(rt.checkpoint, opts); // before the calibration run: bad input fails at once
      const needsCalibration = uniform === undefined || rounding === "gptq";
      const { sequences, source } = needsCalibration
        ? calibrationTokens(rt, v)
        : { sequences: [], source: "none (uniform widths, round to nearest)" };
      const cal = await calibrate(rt, sequences);
      report = { source, ...(await quantizeCheckpoint(rt.checkpoint, cal, v.out, opts)) };
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
          source: report.source,
          avg_bits: report.meanBits,
          group_size: report.groupSize,
          widths: report.widths,
          expert_bits: report.bits,
          expert_bytes: report.expertBytes,
          f32_expert_bytes: report.f32ExpertBytes,
          bytes_saved: saved,
          seconds,
        }),
      );
      return;
    }
    console.log(
      `${v.out}: experts at ${report.meanBits.toFixed(3)} average bits (group size ${report.groupSize}), calibrated on ${report.source}`,
    );
    report.bits.forEach((row, l) => {
      console.log(`  layer ${l}: ${row.join(" ")}`);
    });
    console.log(
      `  expert bytes ${report.expertBytes} of ${report.f32ExpertBytes} as f32 (${(saved * 100).toFixed(1)} % saved), ${seconds.toFixed(1)} s`,
    );
  } finally {
    await rt.release();
  }
}
