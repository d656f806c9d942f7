// The accesses a device-tier cache sees when B sequences are decoded in lockstep, in decode order: step t,
// then layer 0..L-1; at each layer-step, the union of the experts the B tokens of step t need there. Each
// access is one expert that the layer's RunExperts needs. Sequences come from a routing trace: every lane
// decodes one sequence and, when it ends, takes the next one not yet started (continuous batching); a lane
// with nothing left is idle.
//
// Letters (glossary: docs/ARCHITECTURE.md): N trace tokens, L MoE layers, E experts per layer, k experts per
// token, B sequences decoding together (lanes), S decode steps (the cache simulators' meaning), A accesses. An
// expert's key is l*E + e (expert-key.ts).

/** What the access stream needs of a routing trace (a RoutingTrace is one). */
export interface TraceRouting {
  readonly tokens: number; // N
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly topK: number; // k
  readonly sequences: readonly { readonly start: number; readonly length: number }[];
  readonly experts: Uint16Array; // [N, L, k]
}

export interface DecodeSchedule {
  readonly batch: number; // B
  readonly steps: number; // S
  /** [S, B]: the trace token that lane b decodes at step t, or -1 when the lane is idle. */
  readonly tokens: Int32Array;
}

export interface AccessStream {
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly steps: number; // S
  /** [S*L + 1]: the keys of layer-step s = t*L + l are keys[offsets[s] .. offsets[s+1]). */
  readonly offsets: Int32Array;
  /** [A]: expert keys, ascending within each layer-step. */
  readonly keys: Int32Array;
}

/** Lanes of `batch` sequences decoded in lockstep over the trace's sequences, in trace order. */
export function decodeSchedule(trace: TraceRouting, batch: number): DecodeSchedule {
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`decodeSchedule: batch must be a positive integer, got ${batch}`);
  const queue = trace.sequences.filter((s) => s.length > 0);
  for (const s of queue) {
    if (s.start < 0 || s.start + s.length > trace.tokens) {
      throw new RangeError(`decodeSchedule: sequence [${s.start}, ${s.start + s.length}) lies outside the trace's ${trace.tokens} tokens`);
    }
  }
  const lanes = Array.from({ length: batch }, () => ({ next: 0, end: 0 })); // token range left in the lane
  let taken = 0;
  const rows: number[] = [];
  for (;;) {
    let busy = false;
    for (const lane of lanes) {
      if (lane.next === lane.end && taken < queue.length) {
        const s = queue[taken++];
        lane.next = s.start;
        lane.end = s.start + s.length;
      }
      if (lane.next < lane.end) {
        rows.push(lane.next++);
        busy = true;
      } else {
        rows.push(-1);
      }
    }
    if (!busy) {
      rows.length -= batch;
      break;
    }
  }
  return { batch, steps: rows.length / batch, tokens: Int32Array.from(rows) };
}

/** The access stream of a schedule: per layer-step, the union of its tokens' experts. */
export function accessStream(trace: TraceRouting, schedule: DecodeSchedule): AccessStream {
  const { numLayers: L, numExperts: E, topK: k } = trace;
  const { batch: B, steps: S, tokens } = schedule;
  if (trace.experts.length !== trace.tokens * L * k) throw new RangeError("accessStream: trace experts length is not N*L*k");
  const offsets = new Int32Array(S * L + 1);
  const keys: number[] = [];
  const seen = new Uint8Array(E);
  for (let t = 0; t < S; t++) {
    for (let l = 0; l < L; l++) {
      seen.fill(0);
      for (let b = 0; b < B; b++) {
        const n = tokens[t * B + b];
        if (n < 0) continue;
        for (let j = 0; j < k; j++) {
          const e = trace.experts[(n * L + l) * k + j];
          if (e >= E) throw new RangeError(`accessStream: expert id ${e} out of range (E=${E}) at token ${n}, layer ${l}`);
          seen[e] = 1;
        }
      }
      for (let e = 0; e < E; e++) if (seen[e]) keys.push(l * E + e);
      offsets[t * L + l + 1] = keys.length;
    }
  }
  return { numLayers: L, numExperts: E, steps: S, offsets, keys: Int32Array.from(keys) };
}

/**
 * The batch's predicted demand per step: [S, L, E], the probability that at least one token of the step
 * needs expert e at layer l, 1 - Π_b (1 - p_b[l, e]), from per-token probabilities `perToken` [N, L, E]
 * (treated as independent across tokens).
 */
export function batchDemand(
  perToken: Float32Array,
  schedule: DecodeSchedule,
  shape: { numLayers: number; numExperts: number; tokens: number },
): Float32Array {
  const { numLayers: L, numExperts: E, tokens: N } = shape;
  const LE = L * E;
  if (perToken.length !== N * LE) throw new RangeError(`batchDemand: ${perToken.length} probabilities, expected N*L*E = ${N}*${L}*${E}`);
  const { batch: B, steps: S, tokens } = schedule;
  const out = new Float32Array(S * LE); // [S, L, E]
  const miss = new Float64Array(LE); // Π_b (1 - p_b)
  for (let t = 0; t < S; t++) {
    miss.fill(1);
    for (let b = 0; b < B; b++) {
      const n = tokens[t * B + b];
      if (n < 0) continue;
      for (let i = 0; i < LE; i++) miss[i] *= 1 - Math.min(1, Math.max(0, perToken[n * LE + i]));
    }
    for (let i = 0; i < LE; i++) out[t * LE + i] = 1 - miss[i];
  }
  return out;
}
