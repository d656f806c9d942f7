// The link-bound limit of a `bench e2e --links on` run: the tokens/s no policy can beat with the same
// prompts, budget and link. The measured requests' routing (their prompts and greedy outputs, as the
// in-process runtime generates them) is replayed in the mesh's order: C lanes, each a request's prefill
// (one step with all its prompt tokens) then one step per output token, the next request taking a lane
// as soon as one is free. On each shard (keys g mod shards, as placement.ts), Belady's MIN gives the
// fewest loads any policy can make with that shard's device slots; its link moves them one at a time, so
//     time >= max(all-resident time of the run, max over shards of beladyLoads · x)
// and the limit is output tokens over that time. It is a bound, not a forecast: it assumes perfect overlap
// of every transfer with compute.
//
// Letters (glossary: docs/ARCHITECTURE.md): C requests in flight (the benches' meaning), L MoE layers, E
// experts per layer, x transfer time of one expert.
import { recordTrace, type MoeRuntime } from "@expertmesh/model";
import { BeladyPolicy, simulateTimed, type AccessStream, type RoutingTrace } from "@expertmesh/moe";

/** The access stream of a run, with what the simulator of the same run needs: the trace and each step's trace tokens. */
export interface MeshStream extends AccessStream {
  readonly trace: RoutingTrace;
  /** [S]: the trace tokens of each step (a prefill: all its prompt's tokens). */
  readonly stepTokens: readonly number[][];
}

export interface LinkBoundLimit {
  /** Fewest loads per shard over the measured requests (Belady's MIN). */
  belady_loads_per_shard: number[];
  /** Seconds the busiest shard's link needs for them. */
  link_s: number;
  /** Seconds the all-resident mesh took for the same requests (compute bound); null when the run had no all-resident row. */
  resident_s: number | null;
  /** What the bound counts, in words. */
  basis: string;
  tokens_per_s: number;
}

/** The access stream of `requests` ([prompt, output] token ids) served C at a time, prefill as one step. */
export async function meshAccessStream(
  rt: MoeRuntime,
  requests: readonly { prompt: number[]; output: number[] }[],
  C: number,
): Promise<MeshStream> {
  const { numLayers: L, numExperts: E, topK: k } = rt.config;
  const trace = await recordTrace(
    rt,
    requests.map((r) => [...r.prompt, ...r.output]),
  );
  if (trace.sequences.length !== requests.length)
    throw new Error(`meshAccessStream: ${requests.length} requests became ${trace.sequences.length} sequences (longer than the context?)`);
  // Items of each request: its prompt's tokens at once, then each output token.
  const items = requests.map((r, i) => {
    const start = trace.sequences[i].start;
    const out: number[][] = [Array.from({ length: r.prompt.length }, (_, j) => start + j)];
    for (let j = 0; j < r.output.length; j++) out.push([start + r.prompt.length + j]);
    return out;
  });
  const lanes: { req: number; next: number }[] = [];
  let taken = 0;
  const offsets: number[] = [0];
  const keys: number[] = [];
  const seen = new Uint8Array(E);
  const stepTokens: number[][] = [];
  let steps = 0;
  for (;;) {
    while (lanes.length < C && taken < items.length) lanes.push({ req: taken++, next: 0 });
    if (lanes.length === 0) break;
    const tokens = lanes.flatMap((lane) => items[lane.req][lane.next++]);
    stepTokens.push(tokens);
    for (let l = 0; l < L; l++) {
      seen.fill(0);
      for (const n of tokens) for (let j = 0; j < k; j++) seen[trace.experts[(n * L + l) * k + j]] = 1;
      for (let e = 0; e < E; e++) if (seen[e]) keys.push(l * E + e);
      offsets.push(keys.length);
    }
    steps++;
    for (let i = lanes.length - 1; i >= 0; i--) if (lanes[i].next >= items[lanes[i].req].length) lanes.splice(i, 1);
  }
  return { numLayers: L, numExperts: E, steps, offsets: Int32Array.from(offsets), keys: Int32Array.from(keys), trace, stepTokens };
}

export function linkBoundLimit(
  stream: AccessStream,
  o: { shards: number; budgetPercent: number; transferMs: number; outputTokens: number; residentSeconds: number | undefined },
): LinkBoundLimit {
  const { numLayers: L, numExperts: E } = stream;
  const perShard: number[] = [];
  for (let s = 0; s < o.shards; s++) {
    const owned = Array.from({ length: L * E }, (_, g) => g).filter((g) => g % o.shards === s).length;
    const capacity = Math.max(1, Math.floor((owned * o.budgetPercent) / 100));
    const only = onlyShard(stream, s, o.shards);
    const r = simulateTimed(only, () => new BeladyPolicy(only), { capacity, expertBytes: 1, linkGbps: 1, layerMs: 0 });
    perShard.push(r.loads);
  }
  const linkS = (Math.max(0, ...perShard) * o.transferMs) / 1000;
  const seconds = Math.max(linkS, o.residentSeconds ?? 0);
  const basis =
    o.residentSeconds === undefined
      ? "link only: Belady's loads per shard x transfer time, perfect overlap (no all-resident row in this run: compute not counted, a looser bound)"
      : "max(all-resident time, Belady's loads per shard x transfer time): perfect overlap";
  return {
    belady_loads_per_shard: perShard,
    link_s: linkS,
    resident_s: o.residentSeconds ?? null,
    basis,
    tokens_per_s: o.outputTokens / seconds,
  };
}

function onlyShard(stream: AccessStream, s: number, shards: number): AccessStream {
  const offsets = new Int32Array(stream.offsets.length);
  const keys: number[] = [];
  for (let i = 0; i + 1 < stream.offsets.length; i++) {
    for (let j = stream.offsets[i]; j < stream.offsets[i + 1]; j++) if (stream.keys[j] % shards === s) keys.push(stream.keys[j]);
    offsets[i + 1] = keys.length;
  }
  return { ...stream, offsets, keys: Int32Array.from(keys) };
}
