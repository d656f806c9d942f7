// expertmesh bench compress [--model DIR] [--text FILE] [--heldout-tokens N] [--calibration-tokens N]
//   [--decode-tokens N] [--repeats R] [--odp-target S] [--synth DIR [--synth-quantized DIR]] [--json]
//
// What compression buys and costs, every row measured in this run against the f32 model of the same run:
//   - MC-MoE mixed precision vs uniform widths at equal expert bytes. In the nbits layout a weight of b bits
//     in groups of G costs b + (32 + b) / G bits (codes, an f32 scale and a b-bit zero point per group), which
//     is linear in b: a mix at average B bits costs at most the bytes of uniform B bits at the same G, so
//     "equal bytes" is "equal average bits". Mixed rows at 2.5, 3, 3.5 and 4 bits (widths 2, 4, 8); uniform
//     rows where one width has that average: 4 bits (the kernel) and 3 bits (uniform-3bit-sim: RTN 3-bit
//     values in an f32 checkpoint, since the kernel rejects 3 bits: perplexity only, no decode figure);
//     2.5 and 3.5 have no uniform counterpart. Also uniform-2bit-g16 (2-bit codes in groups of 16: within
//     1 % of mixed-3bit's bytes). `mixed_vs_uniform` in --json pairs them. -perlayer: the widths allocated
//     per layer as MC-MoE's reference solver does (the default allocates over all layers at once);
//     -w2348-sim: the solver may also choose 3 bits (simulated like uniform-3bit-sim);
//   - MC-SMoE merging vs plain frequency pruning at the same expert count: half, 3/4 and 7/8 of the experts
//     per layer, and at half with the paper's adaptive layer-wise ratio (-global, K per layer on average);
//     replace-K (each slot runs its group's dominant expert unchanged: merging without the averaging).
//     `collapse` is the share of calibration tokens whose two picks land in one group (one expert fewer);
//   - MC-SMoE's compress step on the merged half (merge-KofE+lowrankR+colsC: each weight as a rank min(D,F)/4
//     factor plus its min(D,F)/8 most important residual columns, computed factored by the runtime);
//   - online dynamic pruning on vs off (on the f32 and the mixed 4-bit checkpoints; activated_experts_saved
//     is the share of the gate's (token, expert) pairs that ODP skipped while scoring the held-out text),
//     protecting by MC-MoE's reference score, and on f32 by the L1 norm alone (-l1);
//   - quantised vs f32 decode tokens/s in process, on the model and (--synth DIR, e.g. a hidden-1024
//     `expertmesh synth` checkpoint) on a larger f32 checkpoint quantised to uniform 4 bits here (or given
//     already quantised by --synth-quantized, e.g. `compress quantize --uniform 4`).
// Held-out perplexity is on the text the model was not trained on (bench-traces' heldOutText), calibration
// on its training split (compress-text.ts). Decode tokens/s: greedy decode of --decode-tokens tokens from a
// held-out prompt, every configuration once per round in a rotating order (warm-up round first), medians
// over --repeats rounds; absolute figures are noisy on a shared machine, the ratios to f32 less so.
//
// Rows: method, avg_bits, expert_bytes, bytes_saved, heldout_ppl, ppl_over_fp32, decode_tokens_per_s (+ decode_over_fp32,
// activated_experts_saved).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  calibrate,
  calibrateDynamicPruning,
  lowRankCheckpoint,
  mergeCheckpoint,
  quantizeCheckpoint,
  simulateUniformQuantization,
  writeDynamicPruningCheckpoint,
  type Calibration,
  type Grouping,
  type ReduceMethod,
} from "@expertmesh/compress";
import { BUNDLED_MODEL_DIR, Checkpoint, generate, MoeRuntime, score, TextTokenizer } from "@expertmesh/model";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { heldOutText } from "./bench-traces.js";
import { calibrationTokens } from "./compress-text.js";
import { progress } from "../progress.js";

interface Variant {
  method: string;
  dir: string;
  /** Which checkpoint the ratios compare against (f32 of the same model). */
  base: string;
  avgBits: number;
  expertBytes: number;
  f32ExpertBytes: number;
  ppl: boolean;
  /** false: no decode figure (a simulated width computes at f32 speed). */
  decode?: boolean;
  /** Merge/prune rows: experts stored per layer, and the share of tokens whose picks share a group. */
  storedExperts?: number[];
  collapse?: number;
}

export async function benchCompressCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    model: { type: "string" },
    text: { type: "string" },
    "heldout-tokens": { type: "string" },
    "calibration-tokens": { type: "string" },
    "decode-tokens": { type: "string" },
    repeats: { type: "string" },
    synth: { type: "string" },
    "synth-quantized": { type: "string" },
    "odp-target": { type: "string" },
    json: { type: "boolean" },
  });
  const odpTarget = numberFlag("odp-target", v["odp-target"], 0.2, (x) => x > 0 && x < 1, "a share in (0, 1)");
  const model = v.model ?? BUNDLED_MODEL_DIR;
  const heldoutTokens = numberFlag("heldout-tokens", v["heldout-tokens"], 8192, isPositiveInt, "a positive integer");
  const decodeTokens = numberFlag("decode-tokens", v["decode-tokens"], 64, (x) => isPositiveInt(x) && x <= 1024, "an integer in [1, 1024]");
  const R = numberFlag("repeats", v.repeats, 5, (x) => isPositiveInt(x) && x <= 50, "an integer in [1, 50]");
  const log = (line: string) => progress.stage(line.replace(/^bench \w+: /, ""));
  const work = mkdtempSync(join(tmpdir(), "em-bench-compress-"));
  const t0 = performance.now();
  try {
    const src = Checkpoint.open(model);
    const { numLayers: L, numExperts: E, hiddenSize: D, intermediateSize: F } = src.config;
    const f32Bytes = L * E * 3 * D * F * 4;
    const variants: Variant[] = [
      { method: "f32", dir: model, base: model, avgBits: 32, expertBytes: f32Bytes, f32ExpertBytes: f32Bytes, ppl: true },
    ];

    // Calibration on the training split, then every compressed checkpoint of the model.
    const rt = await MoeRuntime.load(model);
    let cal: Calibration;
    try {
      const tokens = calibrationTokens(rt, { "max-tokens": v["calibration-tokens"] });
      log(`calibrating on ${tokens.sequences.reduce((a, s) => a + s.length, 0)} tokens of ${tokens.source}`);
      cal = await calibrate(rt, tokens.sequences);
    } finally {
      await rt.release();
    }
    const quantized = async (
      method: string,
      opts: {
        avgBits: number;
        uniform?: number;
        widths?: number[];
        groupSize?: number;
        allocation?: "global" | "layer";
        simulate?: boolean;
      },
    ) => {
      const dir = join(work, method);
      const r = await quantizeCheckpoint(src, cal, dir, opts);
      variants.push({
        method,
        dir,
        base: model,
        avgBits: r.meanBits,
        expertBytes: r.expertBytes,
        f32ExpertBytes: f32Bytes,
        ppl: true,
        ...(opts.simulate ? { decode: false } : {}),
      });
      log(`${method}: ${r.meanBits.toFixed(2)} bits, ${r.expertBytes} expert bytes`);
    };
    await quantized("uniform-8bit", { avgBits: 8, uniform: 8 });
    await quantized("uniform-4bit", { avgBits: 4, uniform: 4 });
    await quantized("mixed-4bit", { avgBits: 4 });
    await quantized("mixed-4bit-perlayer", { avgBits: 4, allocation: "layer" });
    await quantized("mixed-3.5bit", { avgBits: 3.5 });
    await quantized("mixed-3bit", { avgBits: 3 });
    await quantized("mixed-3bit-perlayer", { avgBits: 3, allocation: "layer" });
    {
      const dir = join(work, "uniform-3bit-sim");
      const r = simulateUniformQuantization(src, dir, 3);
      variants.push({
        method: "uniform-3bit-sim",
        dir,
        base: model,
        avgBits: 3,
        expertBytes: r.expertBytes,
        f32ExpertBytes: f32Bytes,
        ppl: true,
        decode: false,
      });
    }
    // The same solver with a 3-bit width too (simulated: the kernel has none), at the averages of the pairs.
    for (const b of [3, 3.5, 4]) await quantized(`mixed-${b}bit-w2348-sim`, { avgBits: b, widths: [2, 3, 4, 8], simulate: true });
    await quantized("mixed-2.5bit", { avgBits: 2.5 });
    await quantized("uniform-2bit", { avgBits: 2, uniform: 2 });
    // The uniform width at the bytes of mixed-3bit: 2-bit codes with groups of 16 (more scales and zero points).
    await quantized("uniform-2bit-g16", { avgBits: 2, uniform: 2, groupSize: 16 });
    const half = Math.max(src.config.topK, Math.floor(E / 2));
    const reductions: [ReduceMethod, number, Grouping][] = [
      ["merge", half, "layer"],
      ["prune", half, "layer"],
      ["replace", half, "layer"],
      ["merge", half, "global"],
      ["prune", half, "global"],
    ];
    for (const K of new Set([Math.round((3 * E) / 4), Math.round((7 * E) / 8)]))
      if (K > half && K < E) reductions.push(["merge", K, "layer"], ["prune", K, "layer"]);
    for (const [method, K, grouping] of reductions) {
      const name = `${method}-${K}of${E}${grouping === "global" ? "-global" : ""}`;
      const dir = join(work, name);
      const r = mergeCheckpoint(src, cal.stats, dir, { expertsPerLayer: K, method, grouping });
      const collapse = r.collapse.reduce((a, b) => a + b, 0) / r.collapse.length;
      variants.push({
        method: name,
        dir,
        base: model,
        avgBits: 32,
        expertBytes: r.expertBytes,
        f32ExpertBytes: f32Bytes,
        ppl: true,
        storedExperts: r.dominant.map((d) => d.length),
        collapse,
      });
      log(`${name}: stored experts per layer ${r.dominant.map((d) => d.length).join(",")}, collapse ${(collapse * 100).toFixed(1)} %`);
    }
    // MC-SMoE's compress step on the merged half: rank min(D, F)/4 plus min(D, F)/8 residual columns per weight,
    // fitted on the merged checkpoint's own calibration run.
    {
      const merged = variants.find((x) => x.method === `merge-${half}of${E}`)!;
      const mrt = await MoeRuntime.load(merged.dir);
      let mcal: Calibration;
      try {
        mcal = await calibrate(mrt, calibrationTokens(mrt, { "max-tokens": v["calibration-tokens"] }).sequences);
      } finally {
        await mrt.release();
      }
      const rank = Math.floor(Math.min(D, F) / 4);
      const sparseColumns = Math.floor(Math.min(D, F) / 8);
      const name = `merge-${half}of${E}+lowrank${rank}+cols${sparseColumns}`;
      const dir = join(work, "lowrank");
      const r = lowRankCheckpoint(Checkpoint.open(merged.dir), mcal, dir, { rank, sparseColumns });
      variants.push({ ...merged, method: name, dir, expertBytes: r.expertBytes, storedExperts: undefined, collapse: undefined });
      log(`${name}: ${r.expertBytes} expert bytes`);
    }
    // Online dynamic pruning on top of the f32 and the mixed 4-bit checkpoints, calibrated to a target share.
    const odp = calibrateDynamicPruning(cal, odpTarget);
    for (const base of ["f32", "mixed-4bit"]) {
      const b = variants.find((x) => x.method === base)!;
      const dir = join(work, `${base}-odp`);
      writeDynamicPruningCheckpoint(b.dir, dir, odp);
      variants.push({ ...b, method: `${base}+odp${odpTarget}`, dir });
    }
    {
      // The same thresholds protecting by the L1 norm alone (the score before the reference's position term).
      const dir = join(work, "f32-odp-l1");
      writeDynamicPruningCheckpoint(model, dir, { ...odp, protectScore: "l1" });
      variants.push({ ...variants[0], method: `f32+odp${odpTarget}-l1`, dir });
    }
    if (v.synth !== undefined) {
      const s = Checkpoint.open(v.synth);
      const c = s.config;
      const bytes = c.numLayers * c.numExperts * 3 * c.hiddenSize * c.intermediateSize * 4;
      variants.push({
        method: "synth-f32",
        dir: v.synth,
        base: v.synth,
        avgBits: 32,
        expertBytes: bytes,
        f32ExpertBytes: bytes,
        ppl: false,
      });
      let dir = v["synth-quantized"];
      if (dir === undefined) {
        log(`quantising ${v.synth} to uniform 4 bits`);
        dir = join(work, "synth-uniform-4bit");
        await quantizeCheckpoint(s, emptyCalibration(c.numLayers, c.numExperts, c.topK), dir, { avgBits: 4, uniform: 4 });
      }
      const q = Checkpoint.open(dir);
      const qc = q.config;
      if (
        q.quantization === null ||
        qc.hiddenSize !== c.hiddenSize ||
        qc.intermediateSize !== c.intermediateSize ||
        qc.numLayers !== c.numLayers ||
        qc.numExperts !== c.numExperts
      ) {
        throw new UsageError(`--synth-quantized ${dir} is not a quantised checkpoint of --synth ${v.synth}'s geometry`);
      }
      let qBytes = 0;
      for (let l = 0; l < qc.numLayers; l++) for (let e = 0; e < qc.numExperts; e++) qBytes += q.expertBytes(l, e);
      const qBits = q.quantization.bits.flat();
      variants.push({
        method: "synth-quantized",
        dir,
        base: v.synth,
        avgBits: qBits.reduce((a, b) => a + b, 0) / qBits.length,
        expertBytes: qBytes,
        f32ExpertBytes: bytes,
        ppl: false,
      });
    }

    // Held-out perplexity of each checkpoint of the model.
    const { text, name } = heldOutText(model, v.text);
    const tok = TextTokenizer.load(model, src.config);
    const heldout = tok.encodePrompt(text.slice(0, heldoutTokens * 16)).slice(0, heldoutTokens);
    const ppl = new Map<string, number>();
    const saved = new Map<string, number>();
    for (const x of variants.filter((x) => x.ppl)) {
      const r = await withRuntime(x.dir, async (rt) => ({ ...(await score(rt, heldout)), ...rt.pruningCounters }));
      ppl.set(x.method, r.perplexity);
      saved.set(x.method, r.routed > 0 ? r.skipped / r.routed : 0);
      log(`${x.method}: held-out perplexity ${r.perplexity.toFixed(3)}`);
    }

    // Decode tokens/s, interleaved rounds over the f32 / quantised pairs (merged and pruned decode at f32 speed
    // per expert; they are measured too, as they touch fewer experts).
    const prompt = heldout.slice(0, 32);
    const speed = new Map<string, number[]>();
    const runtimes = new Map<string, MoeRuntime>(); // loaded once: a large f32 checkpoint takes long to read
    const timed = variants.filter((x) => x.decode !== false);
    try {
      for (const x of timed) runtimes.set(x.method, await MoeRuntime.load(x.dir));
      for (let round = -1; round < R; round++) {
        // Each round starts at a different configuration, so that no configuration always runs first.
        for (let i = 0; i < timed.length; i++) {
          const x = timed[(i + Math.max(0, round)) % timed.length];
          const r = await generate(runtimes.get(x.method)!, [prompt], { maxTokens: decodeTokens });
          if (round < 0) continue;
          speed.set(x.method, [...(speed.get(x.method) ?? []), (r.decodeSteps / r.decodeMs) * 1000]);
          log(`round ${round + 1}/${R} ${x.method}: decode ${((r.decodeSteps / r.decodeMs) * 1000).toFixed(1)} tok/s`);
        }
      }
    } finally {
      for (const rt of runtimes.values()) await rt.release();
    }

    const rows = variants.map((x) => {
      const basePpl = ppl.get("f32")!;
      const tps = x.decode === false ? null : median(speed.get(x.method)!);
      const baseTps = median(speed.get(variants.find((b) => b.dir === x.base)!.method)!);
      return {
        method: x.method,
        model: x.base,
        avg_bits: x.avgBits,
        expert_bytes: x.expertBytes,
        bytes_saved: 1 - x.expertBytes / x.f32ExpertBytes,
        heldout_ppl: x.ppl ? ppl.get(x.method)! : null,
        ppl_over_fp32: x.ppl ? ppl.get(x.method)! / basePpl : null,
        decode_tokens_per_s: tps,
        decode_over_fp32: tps === null ? null : tps / baseTps,
        activated_experts_saved: saved.get(x.method) ?? null,
        ...(x.storedExperts ? { stored_experts: x.storedExperts, collapse: x.collapse } : {}),
        ...(x.decode === false ? { simulated: "quantised values in f32: the kernel has no 3-bit path; perplexity only" } : {}),
      };
    });
    const row = (m: string) => rows.find((r) => r.method === m);
    const mixedVsUniform = [2.5, 3, 3.5, 4].map((b) => {
      const mixed = row(`mixed-${b}bit`)!;
      const uniform = row(`uniform-${b}bit`) ?? row(`uniform-${b}bit-sim`) ?? null;
      const with3 = row(`mixed-${b}bit-w2348-sim`) ?? null;
      return {
        avg_bits: b,
        mixed_bytes: mixed.expert_bytes,
        mixed_ppl: mixed.heldout_ppl,
        mixed_with_3bit_ppl: with3?.heldout_ppl ?? null,
        mixed_with_3bit_bytes: with3?.expert_bytes ?? null,
        uniform: uniform?.method ?? null,
        uniform_bytes: uniform?.expert_bytes ?? null,
        uniform_ppl: uniform?.heldout_ppl ?? null,
        mixed_over_uniform: uniform ? mixed.heldout_ppl! / uniform.heldout_ppl! : null,
      };
    });
    const seconds = (performance.now() - t0) / 1000;
    if (v.json) {
      console.log(
        JSON.stringify({
          model,
          heldout: name,
          heldout_tokens: heldout.length,
          decode_tokens: decodeTokens,
          repeats: R,
          group_size: 32,
          odp_target: odpTarget,
          seconds,
          rows,
          mixed_vs_uniform: mixedVsUniform,
        }),
      );
      return;
    }
    console.log(
      `held-out: ${heldout.length} tokens of ${name}; decode: ${decodeTokens} tokens, median of ${R} interleaved rounds (noisy shared machine: read the ratios)`,
    );
    console.log("method                 avg_bits  expert_bytes  saved   heldout_ppl  ppl/f32  decode tok/s  decode/f32  experts skipped");
    for (const r of rows) {
      const f = (x: number | null, d: number) => (x === null ? "-" : x.toFixed(d));
      console.log(
        `${r.method.padEnd(22)} ${f(r.avg_bits, 2).padStart(8)}  ${String(r.expert_bytes).padStart(12)}  ${(r.bytes_saved * 100).toFixed(1).padStart(5)}%  ` +
          `${f(r.heldout_ppl, 3).padStart(11)}  ${f(r.ppl_over_fp32, 4).padStart(7)}  ${f(r.decode_tokens_per_s, 1).padStart(12)}  ${f(r.decode_over_fp32, 3).padStart(10)}  ${r.activated_experts_saved === null ? "-" : `${(r.activated_experts_saved * 100).toFixed(1)}%`}`,
      );
    }
    for (const m of mixedVsUniform)
      console.log(
        `mixed vs uniform at ${m.avg_bits} bits: ${m.uniform === null ? "no uniform width" : `${m.mixed_ppl!.toFixed(3)} vs ${m.uniform_ppl!.toFixed(3)} (${m.uniform}, ${m.mixed_bytes} vs ${m.uniform_bytes} bytes)`}`,
      );
    console.log(`${seconds.toFixed(0)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function withRuntime<T>(dir: string, f: (rt: MoeRuntime) => Promise<T>): Promise<T> {
  const rt = await MoeRuntime.load(dir);
  try {
    return await f(rt);
  } finally {
    await rt.release();
  }
}

function emptyCalibration(L: number, E: number, k: number): Calibration {
  const empty = () => Array.from({ length: L }, () => Array.from({ length: E }, () => new Float32Array(0)));
  return {
    stats: { numLayers: L, numExperts: E, topK: k, tokens: 0, layers: [] },
    inputs: empty(),
    rowWeights: empty(),
    rows: Array.from({ length: L }, () => new Array<number>(E).fill(0)),
    secondOverFirst: [],
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
