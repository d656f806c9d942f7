// Expert dispatch to the shards: the router's ExpertRunner.
//
//   layer l, work [expert, x]  ─ group by owner ─▶  one call per shard, all shards in parallel
//     (several when the work exceeds MAX_MESSAGE_BYTES: dispatch-split.ts)
//     dispatch "stream": one message on the shard's long-lived DispatchExperts stream (shard-stream.ts)
//     dispatch "unary":  one RunExperts call (the A/B baseline, and what tools use)
//   ◀─ outputs by work item ─ failover: a failed shard's items go to their next owner
//
// For one layer, each expert's tokens go to one live owner (static placement, primary first, then
// replicas). A shard that fails with UNAVAILABLE (or times out, or a broken stream) is marked down for a
// while and its work moves to the next owner; when an expert has no live owner left, the step fails with
// UNAVAILABLE. grpc.health.v1 Watch (shard-health.ts) marks shards down and up as they report, and resets
// a shard's stream when it stops serving. Among live owners the choice prefers one whose device tier
// holds the expert (from heartbeats), then the least loaded, then the primary.
import type { ExpertRunner, ExpertWork } from "@expertmesh/model";
import { Placement } from "@expertmesh/moe";
import {
  ExpertShardServiceDispatchClient,
  HealthClient,
  type ExpertInput,
  type ExpertOutput,
  type ExpertShardServiceClient,
} from "@expertmesh/proto";
import {
  channelCredentialsFromFiles,
  channelOptions,
  DeadlineExceededError,
  float32Tensor,
  InternalError,
  StatusError,
  tensorToFloat32,
  unaryCall,
  UnavailableError,
  type ClientTlsFiles,
} from "@expertmesh/runtime";
import { joinOutputs, pieceInput, splitWork } from "./dispatch-split.js";
import { ShardHealth } from "./shard-health.js";
import { ShardMembership } from "./shard-membership.js";
import { ShardStream } from "./shard-stream.js";

const DOWN_FOR_MS = 2_000;
/**
 * Most hidden-state bytes per dispatch message: a quarter of the 32 MiB message cap (limits.ts), so a
 * large prefill travels as several messages that the shard computes while the next ones arrive.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Calls in flight on one shard's stream (the engine runs one step at a time: more means micro-batches). */
const STREAM_MAX_IN_FLIGHT = 8;

/** Failures another owner may not share: the shard or the transport failed, not the request. */
const retryable = (e: unknown): boolean =>
  e instanceof UnavailableError || e instanceof DeadlineExceededError || e instanceof InternalError || e instanceof StatusError;

export type DispatchMode = "stream" | "unary";

export interface ShardPoolOptions {
  numLayers: number;
  numExperts: number;
  hiddenSize: number;
  replicas: number;
  /** Deadline of one RunExperts call, bounded by the step's own deadline. */
  callTimeoutMs: number;
  /** How calls travel: one long-lived stream per shard (default), or one unary RunExperts each. */
  dispatch?: DispatchMode;
  /** TLS of the channels to the shards; undefined: plaintext. */
  tls?: ClientTlsFiles | undefined;
  /** Most hidden-state bytes in one message to a shard (default MAX_MESSAGE_BYTES); larger work is split. */
  maxMessageBytes?: number;
}

export class ShardPool implements ExpertRunner {
  private readonly clients: ExpertShardServiceClient[];
  private readonly streams: ShardStream[];
  private readonly health: ShardHealth;
  private readonly healthClients: HealthClient[];
  private readonly downUntil: number[];
  readonly placement: Placement;
  readonly membership: ShardMembership;
  /** Epoch ms by which the current step must finish (the latest deadline of its requests). */
  stepDeadline = Infinity;
  /** The step being dispatched (sent with each streamed call, for the shard's traces and logs). */
  stepId = 0;

  constructor(
    readonly addresses: readonly string[],
    private readonly opts: ShardPoolOptions,
  ) {
    this.placement = new Placement({
      numLayers: opts.numLayers,
      numExperts: opts.numExperts,
      shards: addresses.length,
      replicas: opts.replicas,
    });
    const creds = channelCredentialsFromFiles(opts.tls);
    // The stream's messages through the hand-written codec (one exact-size buffer out, tensor views in).
    this.clients = addresses.map((a) => new ExpertShardServiceDispatchClient(a, creds, channelOptions()));
    this.streams = this.clients.map((c, i) => new ShardStream(c, `shard ${i} (${addresses[i]})`, STREAM_MAX_IN_FLIGHT));
    this.downUntil = addresses.map(() => 0);
    this.membership = new ShardMembership(addresses.length);
    this.healthClients = addresses.map((a) => new HealthClient(a, creds, channelOptions()));
    this.health = new ShardHealth(this.healthClients, (shard, serving) => {
      if (!serving) this.streams[shard]!.reset("health reports NOT_SERVING");
    });
  }

  get dispatch(): DispatchMode {
    return this.opts.dispatch ?? "stream";
  }

  async run(layer: number, work: ExpertWork[], signal?: AbortSignal): Promise<Float32Array[]> {
    const results: Float32Array[] = new Array(work.length);
    let pending = work.map((_, i) => i);
    const tried = work.map(() => new Set<number>());
    const failedWith = new Map<number, unknown>(); // shard → its failure in this run
    while (pending.length) {
      const byShard = new Map<number, number[]>();
      for (const i of pending) {
        const shard = this.choose(layer, work[i].expert, tried[i]);
        tried[i].add(shard);
        let list = byShard.get(shard);
        if (!list) byShard.set(shard, (list = []));
        list.push(i);
      }
      const failed: number[] = [];
      let lastError: unknown;
      await Promise.all(
        [...byShard].map(async ([shard, items]) => {
          try {
            const outputs = await this.callShard(
              shard,
              layer,
              items.map((i) => work[i]),
              signal,
            );
            items.forEach((i, j) => {
              results[i] = outputs[j];
            });
          } catch (e) {
            signal?.throwIfAborted();
            // The step's own deadline ran out: nothing is wrong with the shard, and no replica can help.
            if (e instanceof DeadlineExceededError && Date.now() >= this.stepDeadline - 5) {
              throw new DeadlineExceededError("the request's deadline passed during expert dispatch", { cause: e });
            }
            if (!retryable(e)) throw e;
            this.downUntil[shard] = Date.now() + DOWN_FOR_MS;
            failedWith.set(shard, e);
            lastError = e;
            failed.push(...items);
          }
        }),
      );
      signal?.throwIfAborted();
      for (const i of failed) {
        const left = this.placement.owners(layer, work[i].expert).filter((s) => !tried[i].has(s));
        if (left.length === 0) {
          // "No live shard" only when no owner is live (heartbeats stopped or draining); an owner that is
          // live but failed or did not answer in time is named with what happened.
          const owners = this.placement.owners(layer, work[i].expert);
          const live = owners.filter((s) => this.membership.available(s) && !(failedWith.get(s) instanceof UnavailableError));
          const what =
            live.length === 0 ? `no live shard among owners [${owners.join(", ")}]` : `every owner failed (live: shard ${live.join(", ")})`;
          throw new UnavailableError(`expert ${layer}/${work[i].expert}: ${what} (last error: ${(lastError as Error)?.message})`, {
            cause: lastError,
            retryAfterMs: DOWN_FOR_MS,
          });
        }
      }
      pending = failed;
    }
    return results;
  }

  /** The best owner not yet tried: up, holding the expert, least loaded, primary first; else any not tried. */
  private choose(layer: number, expert: number, tried: Set<number>): number {
    const owners = this.placement.owners(layer, expert).filter((s) => !tried.has(s));
    const now = Date.now();
    const key = layer * this.opts.numExperts + expert;
    const up = owners.filter((s) => this.downUntil[s] <= now && this.health.isServing(s) && this.membership.available(s, now));
    if (up.length === 0) return owners.find((s) => this.downUntil[s] <= now) ?? owners[0];
    const score = (s: number) => (this.membership.isResident(s, key) ? 0 : 1_000_000) + this.membership.inFlight(s);
    return up.reduce((best, s) => (score(s) < score(best) ? s : best), up[0]);
  }

  /**
   * One shard's work for the layer, in messages of at most maxMessageBytes (dispatch-split.ts), all in
   * flight at once; outputs [rows, D] per item: views into the received messages where aligned (read
   * once, by the combine), joined only for an item cut into pieces.
   */
  private async callShard(shard: number, layer: number, work: ExpertWork[], signal?: AbortSignal): Promise<Float32Array[]> {
    const D = this.opts.hiddenSize;
    const messages = splitWork(work, D, this.opts.maxMessageBytes ?? MAX_MESSAGE_BYTES);
    const outputs = await Promise.all(
      messages.map(async (pieces) => {
        const items = pieces.map((p) => ({ expert: work[p.item].expert, x: pieceInput(work, p, D), rows: p.rows }));
        const out = await this.call(shard, layer, items, signal);
        return pieces.map((p, j) => tensorToFloat32(out[j]?.output, `outputs[${j}].output`, { shape: [p.rows, D] }));
      }),
    );
    return joinOutputs(work, messages, outputs, D);
  }

  private call(shard: number, layer: number, work: ExpertWork[], signal?: AbortSignal): Promise<ExpertOutput[]> {
    const inputs: ExpertInput[] = work.map((w) => ({
      expertId: w.expert,
      hiddenStates: float32Tensor(w.x, [w.rows, this.opts.hiddenSize]),
    }));
    const deadline = Math.min(Date.now() + this.opts.callTimeoutMs, this.stepDeadline);
    if (deadline <= Date.now()) return Promise.reject(new DeadlineExceededError("the step's deadline passed before dispatch"));
    if (this.dispatch === "stream") return this.streams[shard]!.call({ layer, stepId: this.stepId, inputs, deadline, signal });
    return unaryCall(this.clients[shard]!, "runExperts", { layer, inputs }, { deadline, signal }).then((r) => r.outputs);
  }

  close(): void {
    this.health.close();
    for (const s of this.streams) s.close();
    for (const c of this.clients) c.close();
    for (const c of this.healthClients) c.close();
  }
}
