// MC-MoE's pre-loading mixed-precision quantization (PMQ) of a checkpoint's experts. For every expert and
// width b: quantise its three weights group-wise (RTN, quant/nbits-quantize.ts), run the expert on its
// sampled calibration inputs with the f32 and the dequantised weights, and take the mean squared output
// error ε[e][b]. The cost of expert e at width b is φ_e^α · w_e^β · ε[e][b] (φ activation frequency, w
// mean routing weight; MC-MoE's significance, α = 1, β = 1.5 as in its reference solver), and the widths
// come from the exact allocation over all L·E experts at the average-bits budget (bit-allocation.ts).
// `uniform` skips the solver and gives every expert one width (the baseline).
//
// Letters (glossary: docs/ARCHITECTURE.md): L layers, E experts, D hidden size, F expert hidden size, m sampled
// rows, G group size.
import {
  buildExpertGraph,
  createSession,
  DEFAULT_SESSION_CONFIG,
  dequantizeNbits,
  EXPERT_WEIGHTS,
  expertNbitsBytes,
  floatTensor,
  KERNEL_BITS,
  NBITS_METHOD,
  nbitsTensorNames,
  quantizeNbits,
  type Checkpoint,
  type ExpertWeights,
  type NbitsWeight,
  type TensorToWrite,
} from "@expertmesh/model";
import { allocateBits } from "./bit-allocation.js";
import { gptqNbits } from "./gptq.js";
import { swigluActivations } from "./swiglu.js";
import type { Calibration } from "./calibrate.js";
import { CompressError, nonExpertTensors, writeCompressedCheckpoint } from "./checkpoint-write.js";

export interface QuantizeOptions {
  avgBits: number;
  widths?: readonly number[];
  groupSize?: number;
  alpha?: number;
  beta?: number;
  /** Every expert at this width, no solver (the uniform baseline). */
  uniform?: number;
  /** "rtn" round to nearest, or "gptq": GPTQ error compensation on each expert's calibration inputs (gptq.ts). */
  rounding?: Rounding;
  /**
   * "global": one allocation over all L·E experts (the default; layers trade bits); "layer": one per layer,
   * each within the average (MC-MoE's reference solver: an integer program per decoder block).
   */
  allocation?: Allocation;
  /**
   * Write the chosen codes dequantised in f32 (config.json `simulated_quantization`, no quantization_config)
   * instead of the kernel's layout, so that widths the kernel lacks (3 bits) can be compared on perplexity.
   * Widths 2..8 are then allowed; the bytes reported are the nbits layout's.
   */
  simulate?: boolean;
}

export type Allocation = "global" | "layer";

export type Rounding = "rtn" | "gptq";

export interface QuantizeReport {
  bits: number[][]; // [L][E]
  meanBits: number;
  groupSize: number;
  expertBytes: number; // all experts as stored
  f32ExpertBytes: number;
  /** [L][E][W] measured mean squared output error per width. */
  error: number[][][];
  widths: number[];
}

export const DEFAULT_GROUP_SIZE = 32;
/** config.json key of a checkpoint whose experts hold quantised values in f32 (opts.simulate, quantize-simulated.ts). */
export const SIMULATED_QUANTIZATION_KEY = "simulated_quantization";

export function checkQuantizable(src: Checkpoint, opts: QuantizeOptions): { widths: number[]; groupSize: number } {
  if (src.quantization !== null)
    throw new CompressError(
      `${src.dir} is already quantized (quantization_config ${src.quantization.method} in config.json); quantize the f32 checkpoint`,
    );
  if (src.lowRank !== null) throw new CompressError(`${src.dir} is low-rank (low_rank_config); quantize an f32 checkpoint`);
  const widths = [...(opts.widths ?? KERNEL_BITS)].sort((a, b) => a - b);
  const allowed = (b: number) => (opts.simulate ? Number.isInteger(b) && b >= 2 && b <= 8 : KERNEL_BITS.includes(b));
  for (const b of widths) {
    if (!allowed(b)) {
      if (opts.simulate) throw new CompressError(`simulated bit width must be an integer in 2..8, got ${b}`);
      throw new CompressError(
        `bit width ${b} is not supported: onnxruntime-node 1.30's MatMulNBits CPU kernel runs ${KERNEL_BITS.join(", ")} bits${b === 3 ? " (it rejects 3)" : ""}`,
      );
    }
  }
  if (opts.uniform !== undefined && !allowed(opts.uniform))
    throw new CompressError(`uniform width ${opts.uniform} is not supported (supported: ${KERNEL_BITS.join(", ")})`);
  const lo = widths[0];
  const hi = widths[widths.length - 1];
  if (opts.uniform === undefined && !(opts.avgBits >= lo && opts.avgBits <= hi)) {
    throw new CompressError(`--avg-bits must be between ${lo} and ${hi} (the widths ${widths.join(", ")}), got ${opts.avgBits}`);
  }
  const groupSize = opts.groupSize ?? DEFAULT_GROUP_SIZE;
  if (!(Number.isInteger(groupSize) && groupSize >= 16 && (groupSize & (groupSize - 1)) === 0))
    throw new CompressError(`group size must be a power of two >= 16, got ${groupSize}`);
  return { widths, groupSize };
}

export async function quantizeCheckpoint(
  src: Checkpoint,
  cal: Calibration,
  outDir: string,
  opts: QuantizeOptions,
): Promise<QuantizeReport> {
  const { widths, groupSize } = checkQuantizable(src, opts);
  const { numLayers: L, numExperts: E, hiddenSize: D, intermediateSize: F } = src.config;
  const rounding = opts.rounding ?? "rtn";
  const quantize = (w: ExpertWeights, bits: number, l: number, e: number) => {
    const rows = cal.rows[l]?.[e] ?? 0;
    if (rounding === "rtn" || rows === 0) {
      return {
        w1: quantizeNbits(w.w1, F, D, bits, groupSize),
        w3: quantizeNbits(w.w3, F, D, bits, groupSize),
        w2: quantizeNbits(w.w2, D, F, bits, groupSize),
      };
    }
    const x = cal.inputs[l][e];
    const act = swigluActivations(w, x, rows, D, F);
    return {
      w1: gptqNbits(w.w1, F, D, x, rows, bits, groupSize),
      w3: gptqNbits(w.w3, F, D, x, rows, bits, groupSize),
      w2: gptqNbits(w.w2, D, F, act, rows, bits, groupSize),
    };
  };
  const error: number[][][] = [];
  let bits: number[][];
  if (opts.uniform !== undefined) {
    bits = Array.from({ length: L }, () => new Array<number>(E).fill(opts.uniform!));
  } else {
    const session = await createSession(buildExpertGraph(D, F), DEFAULT_SESSION_CONFIG);
    try {
      const run = async (x: Float32Array, rows: number, w: ExpertWeights) =>
        (
          await session.run({
            x: floatTensor(x, [rows, D]),
            w1: floatTensor(w.w1, [F, D]),
            w3: floatTensor(w.w3, [F, D]),
            w2: floatTensor(w.w2, [D, F]),
          })
        ).y.data as Float32Array;
      for (let l = 0; l < L; l++) {
        error.push([]);
        for (let e = 0; e < E; e++) {
          if (!src.isStored(l, e)) {
            error[l].push(widths.map(() => 0)); // a merged-away or pruned slot: never computed
            continue;
          }
          const rows = cal.rows[l][e];
          const w = src.expert(l, e);
          const ref = rows > 0 ? await run(cal.inputs[l][e], rows, w) : null;
          const errs: number[] = [];
          for (const b of widths) {
            if (ref === null) {
              errs.push(0);
              continue;
            }
            const q = quantize(w, b, l, e);
            const y = await run(cal.inputs[l][e], rows, {
              w1: dequantizeNbits(q.w1),
              w3: dequantizeNbits(q.w3),
              w2: dequantizeNbits(q.w2),
            });
            let s = 0;
            for (let i = 0; i < y.length; i++) s += (y[i] - ref[i]) ** 2;
            errs.push(s / rows);
          }
          error[l].push(errs);
        }
      }
    } finally {
      await session.release();
    }
    const alpha = opts.alpha ?? 1;
    const beta = opts.beta ?? 1.5;
    const cost: number[][] = [];
    for (let l = 0; l < L; l++) {
      const s = cal.stats.layers[l];
      for (let e = 0; e < E; e++) cost.push(error[l][e].map((x) => s.frequency[e] ** alpha * s.meanWeight[e] ** beta * x));
    }
    // Only stored experts take part (a merged checkpoint stores K of E per layer); the others take their
    // stored expert's width, or the smallest for a pruned slot, and cost nothing.
    const flat = new Array<number>(L * E).fill(widths[0]);
    const allocate = (items: number[]) => {
      const chosen = allocateBits(
        items.map((i) => cost[i]),
        widths,
        opts.avgBits,
      ).bits;
      items.forEach((i, j) => {
        flat[i] = chosen[j];
      });
    };
    const stored = (l: number) => Array.from({ length: E }, (_, e) => l * E + e).filter((i) => src.isStored(l, i - l * E));
    if (opts.allocation === "layer") for (let l = 0; l < L; l++) allocate(stored(l));
    else allocate(Array.from({ length: L }, (_, l) => stored(l)).flat());
    for (let l = 0; l < L; l++)
      for (let e = 0; e < E; e++)
        if (!src.isStored(l, e)) {
          const m = src.slotMap![l][e];
          flat[l * E + e] = m < 0 ? widths[0] : flat[l * E + m];
        }
    bits = Array.from({ length: L }, (_, l) => flat.slice(l * E, l * E + E));
  }

  const tensors: Record<string, TensorToWrite> = nonExpertTensors(src);
  let expertBytes = 0;
  for (let l = 0; l < L; l++) {
    for (let e = 0; e < E; e++) {
      if (!src.isStored(l, e)) continue;
      const q = quantize(src.expert(l, e), bits[l][e], l, e);
      for (const w of EXPERT_WEIGHTS) {
        const name = src.adapter.expert(src.decoderLayer(l), e, w);
        if (opts.simulate) tensors[name] = { data: dequantizeNbits(q[w]), shape: [q[w].shape.N, q[w].shape.K] };
        else addNbits(tensors, name, q[w]);
      }
      expertBytes += expertNbitsBytes(D, F, bits[l][e], groupSize);
    }
  }
  const quantizationConfig = { quant_method: NBITS_METHOD, group_size: groupSize, expert_bits: bits };
  writeCompressedCheckpoint(
    src,
    outDir,
    tensors,
    opts.simulate
      ? { [SIMULATED_QUANTIZATION_KEY]: { method: rounding, ...quantizationConfig } }
      : { quantization_config: quantizationConfig },
  );
  let stored = 0;
  let bitSum = 0;
  for (let l = 0; l < L; l++)
    for (let e = 0; e < E; e++)
      if (src.isStored(l, e)) {
        stored++;
        bitSum += bits[l][e];
      }
  return { bits, meanBits: bitSum / stored, groupSize, expertBytes, f32ExpertBytes: stored * 3 * D * F * 4, error, widths };
}

function addNbits(out: Record<string, TensorToWrite>, weightName: string, q: NbitsWeight): void {
  const names = nbitsTensorNames(weightName);
  const s = q.shape;
  out[names.qweight] = { data: q.qweight, shape: [s.N, s.blocks, s.blobBytes] };
  out[names.scales] = { data: q.scales, shape: [s.N, s.blocks] };
  out[names.qzeros] = { data: q.qzeros, shape: [s.N, s.zeroBytes] };
}
