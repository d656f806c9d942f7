// The cos/sin tables of a family's RoPE spec: default frequencies, or YaRN's blend of interpolated and
// extrapolated frequencies with its attention factor (transformers modeling_rope_utils
// _compute_yarn_parameters, followed step by step; values in fp32 where torch computes in fp32).
import type { RopeSpec, YarnSpec } from "../config.js";
import { defaultInvFreq, ropeTables } from "./rope.js";

function mscale(scale: number, m = 1): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

export function yarnAttentionFactor(y: YarnSpec): number {
  if (y.attentionFactor != null) return y.attentionFactor;
  return y.mscale && y.mscaleAllDim ? mscale(y.factor, y.mscale) / mscale(y.factor, y.mscaleAllDim) : mscale(y.factor);
}

export function yarnInvFreq(dim: number, theta: number, y: YarnSpec): Float32Array {
  const correctionDim = (rotations: number) => (dim * Math.log(y.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correctionDim(y.betaFast);
  let high = correctionDim(y.betaSlow);
  if (y.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const posFreq = Math.fround(theta ** Math.fround((2 * i) / dim));
    const extrapolation = Math.fround(1 / posFreq);
    const interpolation = Math.fround(1 / Math.fround(y.factor * posFreq));
    const ramp = Math.min(1, Math.max(0, Math.fround((i - low) / (high - low))));
    const extrapolationFactor = Math.fround(1 - ramp);
    out[i] = Math.fround(interpolation * Math.fround(1 - extrapolationFactor)) + Math.fround(extrapolation * extrapolationFactor);
  }
  return out;
}

export function ropeTablesForSpec(maxPositions: number, spec: RopeSpec): { cos: Float32Array; sin: Float32Array } {
  if (!spec.yarn) return ropeTables(maxPositions, spec.dim, spec.theta, defaultInvFreq(spec.dim, spec.theta));
  return ropeTables(maxPositions, spec.dim, spec.theta, yarnInvFreq(spec.dim, spec.theta, spec.yarn), yarnAttentionFactor(spec.yarn));
}
