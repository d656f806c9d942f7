// Routing traces from other systems, as JSON lines (`expertmesh trace import --format jsonl`): one line per
// token, in decode order within each sequence:
//
//   {"sequence": 0, "token_id": 1734, "experts": [[3, 7], [12, 0], ...], "weights": [[0.61, 0.39], ...]}
//
//   experts    required: L lists (one per MoE layer) of the k expert ids the gate chose, highest weight
//              first; every line has the same L and k; ids in [0, E)
//   weights    optional: the same shape, the gate weights (absent: 1/k each)
//   sequence   optional: lines with the same value, one after another, are one sequence (a request);
//              absent: the whole file is one sequence
//   token_id   optional: the token's id (needed only by predictors that read token ids); absent: -1
//
// Blank lines are skipped. E is not in the lines: the caller gives it (from a config.json or a flag).
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, L MoE layers, E experts per layer, k experts per token.
import type { RoutingTrace } from "./trace-format.js";

export class TraceImportError extends Error {
  override readonly name = "TraceImportError";
}

export function parseJsonlTrace(text: string, numExperts: number, name = "trace.jsonl"): RoutingTrace {
  const E = numExperts;
  if (!Number.isInteger(E) || E < 1 || E > 65535)
    throw new TraceImportError(`${name}: num_experts must be an integer in [1, 65535], got ${E}`);
  let L = -1;
  let k = -1;
  const tokenIds: number[] = [];
  const experts: number[] = [];
  const weights: number[] = [];
  const sequences: { start: number; length: number }[] = [];
  let lastSequence: unknown = Symbol("none");
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const at = `${name}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new TraceImportError(`${at}: not JSON (${(e as Error).message})`);
    }
    if (row === null || typeof row !== "object" || Array.isArray(row)) throw new TraceImportError(`${at}: expected an object per line`);
    const ex = row.experts;
    if (!Array.isArray(ex) || ex.length === 0 || !ex.every((layer) => Array.isArray(layer) && layer.length > 0)) {
      throw new TraceImportError(`${at}: "experts" must be a non-empty list of per-layer lists of expert ids`);
    }
    if (L < 0) {
      L = ex.length;
      k = (ex[0] as unknown[]).length;
    }
    if (ex.length !== L) throw new TraceImportError(`${at}: "experts" has ${ex.length} layers, the first line has ${L}`);
    for (const [l, layer] of (ex as unknown[][]).entries()) {
      if (layer.length !== k) throw new TraceImportError(`${at}: layer ${l} has ${layer.length} experts, the first line has k=${k}`);
      const seen = new Set<number>();
      for (const id of layer) {
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= E) {
          throw new TraceImportError(
            `${at}: expert id ${JSON.stringify(id)} at layer ${l} is not an integer in [0, ${E}) (num_experts ${E})`,
          );
        }
        if (seen.has(id)) throw new TraceImportError(`${at}: expert ${id} chosen twice at layer ${l}`);
        seen.add(id);
        experts.push(id);
      }
    }
    const w = row.weights;
    if (w === undefined) for (let j = 0; j < L * k; j++) weights.push(1 / k);
    else {
      const ok =
        Array.isArray(w) &&
        w.length === L &&
        w.every((layer) => Array.isArray(layer) && layer.length === k && layer.every((x) => typeof x === "number" && Number.isFinite(x)));
      if (!ok) throw new TraceImportError(`${at}: "weights" must have the shape of "experts" (${L} x ${k} finite numbers)`);
      for (const layer of w as number[][]) weights.push(...layer);
    }
    const tok = row.token_id;
    if (tok !== undefined && (typeof tok !== "number" || !Number.isInteger(tok) || tok < 0 || tok > 2 ** 31 - 1)) {
      throw new TraceImportError(`${at}: "token_id" must be a non-negative integer, got ${JSON.stringify(tok)}`);
    }
    tokenIds.push(tok === undefined ? -1 : tok);
    const seq = row.sequence ?? null;
    if (sequences.length === 0 || seq !== lastSequence) sequences.push({ start: tokenIds.length - 1, length: 0 });
    sequences[sequences.length - 1].length++;
    lastSequence = seq;
  }
  const N = tokenIds.length;
  if (N === 0) throw new TraceImportError(`${name}: no token lines`);
  const positions = new Int32Array(N);
  for (const s of sequences) for (let j = 0; j < s.length; j++) positions[s.start + j] = j;
  return {
    numLayers: L,
    numExperts: E,
    topK: k,
    tokens: N,
    sequences,
    source: `${name} (jsonl)`,
    tokenIds: Int32Array.from(tokenIds),
    positions,
    experts: Uint16Array.from(experts),
    weights: Float32Array.from(weights),
  };
}
