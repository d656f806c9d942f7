// Routing-trace arguments shared by the predictor commands: --traces FILE... lists, reading traces that
// agree on L, E and k, and laying several traces end to end as one.
import { readTrace, type RoutingTrace } from "@expertmesh/moe";
import { UsageError } from "../args.js";

/** Removes `flag` and the values that follow it (up to the next flag) from argv: [values, the rest]. */
export function takeList(argv: string[], flag: string, options: { optional?: boolean } = {}): [string[], string[]] {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === flag) {
      while (i + 1 < argv.length && !argv[i + 1].startsWith("--")) values.push(argv[++i]);
    } else if (arg.startsWith(`${flag}=`)) {
      values.push(arg.slice(flag.length + 1));
    } else {
      rest.push(arg);
    }
  }
  if (values.length === 0 && !options.optional) throw new UsageError(`${flag} is required (one or more routing trace files)`);
  return [values, rest];
}

/** Reads the traces, which must agree on L, E and k. */
export function readTraces(files: string[]): { file: string; trace: RoutingTrace }[] {
  const traces = files.map((file) => {
    try {
      return { file, trace: readTrace(file) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(code === "ENOENT" ? `--traces ${file}: not found` : (e as Error).message);
    }
  });
  const [first] = traces;
  const { numLayers: L, numExperts: E, topK: k } = first.trace;
  for (const { file, trace } of traces) {
    if (trace.numLayers !== L || trace.numExperts !== E || trace.topK !== k) {
      throw new UsageError(
        `--traces ${file}: L=${trace.numLayers} E=${trace.numExperts} k=${trace.topK}, but ${first.file} has L=${L} E=${E} k=${k}`,
      );
    }
  }
  return traces;
}

/** The traces (read by readTraces) laid end to end as one. */
export function concatTraces(traces: { file: string; trace: RoutingTrace }[]): RoutingTrace {
  const [first] = traces;
  const { numLayers: L, numExperts: E, topK: k } = first.trace;
  if (traces.length === 1) return first.trace;
  const concat = <A extends Int32Array | Uint16Array | Float32Array>(make: (n: number) => A, pick: (t: RoutingTrace) => A): A => {
    const out = make(traces.reduce((n, { trace }) => n + pick(trace).length, 0));
    let o = 0;
    for (const { trace } of traces) {
      out.set(pick(trace) as never, o);
      o += pick(trace).length;
    }
    return out;
  };
  let start = 0;
  const sequences = traces.flatMap(({ trace }) => {
    const shifted = trace.sequences.map((s) => ({ start: s.start + start, length: s.length }));
    start += trace.tokens;
    return shifted;
  });
  return {
    numLayers: L,
    numExperts: E,
    topK: k,
    tokens: start,
    sequences,
    tokenIds: concat(
      (n) => new Int32Array(n),
      (t) => t.tokenIds,
    ),
    positions: concat(
      (n) => new Int32Array(n),
      (t) => t.positions,
    ),
    experts: concat(
      (n) => new Uint16Array(n),
      (t) => t.experts,
    ),
    weights: concat(
      (n) => new Float32Array(n),
      (t) => t.weights,
    ),
  };
}
