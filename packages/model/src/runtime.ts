// The forward pass of a Mixtral-style MoE model, one step for a batch of sequences of different lengths.
//
// Per step: embed the new tokens (left-padded to S; step-batch.ts), run them through the layers on one of
// two paths (forward-path.ts), and return the logits of each sequence's last token (or of all its tokens).
// - "fused" (the default when the experts live in this process as f32 and onnxruntime's MoE operator
//   computes the family's gate): the routed experts are inside the layer graphs, one MoE node per layer,
//   one session run for all layers (forward-fused.ts).
// - "seam": per layer the dense graph, the gate in JS, and the experts through an ExpertRunner: the
//   in-process LocalExpertRunner (NbitsExpertRunner for quantised experts), or the router's runner that
//   sends the work to expert shards (forward-seam.ts). Chosen whenever `experts` is given, for the
//   checkpoints the fused path cannot run (fusedUnsupported), and for a step with onMoeInput (which needs
//   the residual between the dense graph and the experts).
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, V vocabulary.
import type { Checkpoint as CheckpointType } from "./checkpoint.js";
import type { DynamicPruning } from "@expertmesh/moe";
import { Checkpoint } from "./checkpoint.js";
import { readDynamicPruning } from "./dynamic-pruning-config.js";
import type { MoeConfig } from "./config.js";
import { InvalidInputError, LimitError } from "./errors.js";
import { LocalExpertRunner, type ExpertRunner } from "./expert-runner.js";
import { NbitsExpertRunner } from "./expert-runner-nbits.js";
import { buildLowRankExpertGraph } from "./quant/lowrank-expert-graph.js";
import { FusedForward, fusedUnsupported } from "./forward-fused.js";
import type { ForwardOptions, ForwardPath } from "./forward-path.js";
import { SeamForward } from "./forward-seam.js";
import { KvCache } from "./kv-cache.js";
import { DEFAULT_SESSION_CONFIG, type SessionConfig } from "./ort-session.js";
import { prepareBatch } from "./step-batch.js";

export type { LayerRouting, MoeInput } from "./forward-path.js";

/** One sequence's state across steps: its KV cache and position. */
export class Sequence {
  readonly cache: KvCache;
  constructor(config: MoeConfig) {
    this.cache = new KvCache(config.numHiddenLayers, config.numKvHeads, config.headDim, 64, config.valueHeadDim);
  }
  get length(): number {
    return this.cache.length;
  }
}

export interface StepInput {
  sequence: Sequence;
  tokens: readonly number[];
}

export interface StepOptions extends ForwardOptions {
  /** Return logits for every new token (for scoring) instead of only each sequence's last one. */
  allLogits?: boolean;
}

export type ForwardPathName = "fused" | "seam";
export const FORWARD_PATHS: readonly ForwardPathName[] = ["fused", "seam"];

export interface RuntimeOptions {
  session?: SessionConfig;
  /** Computes the routed experts (e.g. on expert shards); implies the "seam" path. Default: all experts in this process. */
  experts?: ExpertRunner;
  /** "fused" (the default where fusedUnsupported allows it, without `experts`) or "seam" (experts through an ExpertRunner, one session run per layer and expert). */
  forward?: ForwardPathName;
  /** Online dynamic pruning (seam path): undefined = the checkpoint's (config.json dynamic_pruning), null = off. */
  dynamicPruning?: DynamicPruning | null;
  /** Fused path: slices per expert in the MoE nodes (graphs/moe-block.ts). Default: one per thread (expertParts); 1 is the operator's own layout. */
  expertParts?: number;
}

export class MoeRuntime {
  private seamPath: Promise<{ path: SeamForward; runner: ExpertRunner & { release(): Promise<void> } }> | undefined;
  /** Online dynamic pruning in force (MC-MoE ODP), or null. */
  dynamicPruning: DynamicPruning | null = null;
  /** Since load: routed (token, expert) pairs the gate chose, and those ODP skipped. */
  readonly pruningCounters = { routed: 0, skipped: 0 };

  private constructor(
    readonly checkpoint: CheckpointType,
    readonly config: MoeConfig,
    private readonly embed: Float32Array,
    private readonly path: ForwardPath,
    private readonly session: SessionConfig,
    private readonly runner: ExpertRunner | undefined,
  ) {}

  static async load(dir: string, options: RuntimeOptions = {}): Promise<MoeRuntime> {
    const ckpt = Checkpoint.open(dir);
    const c = ckpt.config;
    const session = options.session ?? DEFAULT_SESSION_CONFIG;
    const dynamicPruning = options.dynamicPruning === undefined ? readDynamicPruning(dir, c.numLayers) : options.dynamicPruning;
    const unsupported =
      fusedUnsupported(ckpt) ?? (dynamicPruning ? "it prunes experts dynamically (ODP skips experts per token in JS)" : null);
    const forward = options.forward ?? (options.experts || unsupported ? "seam" : "fused");
    if (forward === "fused" && options.experts)
      throw new InvalidInputError("forward", 'the fused path computes the experts itself; an ExpertRunner needs forward: "seam"');
    if (forward === "fused" && unsupported) throw new InvalidInputError("forward", `the fused path cannot run ${dir}: ${unsupported}`);
    const embed = ckpt.tensor(ckpt.adapter.embedTokens, [c.vocabSize, c.hiddenSize]);
    let path: ForwardPath;
    let runner = options.experts;
    if (forward === "fused") {
      path = await FusedForward.create(ckpt, session, options.expertParts);
    } else {
      runner ??= await localRunner(ckpt, session);
      path = await SeamForward.create(ckpt, session, runner);
    }
    const rt = new MoeRuntime(ckpt, c, embed, path, session, runner);
    rt.dynamicPruning = dynamicPruning;
    return rt;
  }

  /** The path this runtime computes steps with. */
  get forward(): ForwardPathName {
    return this.path.name;
  }

  newSequence(): Sequence {
    return new Sequence(this.config);
  }

  /**
   * Runs the new tokens of each input through the model, appending them to the sequences' caches.
   * Returns, per input, logits [V] of its last token, or [S_b, V] of all its tokens with `allLogits`.
   */
  async step(inputs: readonly StepInput[], options: StepOptions = {}): Promise<Float32Array[]> {
    this.validate(inputs);
    const V = this.config.vocabSize;
    const batchInputs = inputs.map((i) => ({ cache: i.sequence.cache, tokens: i.tokens }));
    const batch = prepareBatch(batchInputs, this.embed, this.config, options.allLogits ?? false);
    const path = options.onMoeInput && this.path.name === "fused" ? (await this.seam()).path : this.path;
    const pruning = this.dynamicPruning ? { settings: this.dynamicPruning, counters: this.pruningCounters } : undefined;
    const all = await path.run(batchInputs, batch, { ...options, pruning });
    for (const { sequence, tokens } of inputs) sequence.cache.commit(tokens.length);
    const result: Float32Array[] = [];
    let offset = 0;
    for (const { tokens } of inputs) {
      const n = options.allLogits ? tokens.length : 1;
      result.push(all.slice(offset * V, (offset + n) * V));
      offset += n;
    }
    return result;
  }

  /** The seam path beside a fused one, built on first use (for onMoeInput). */
  private seam(): Promise<{ path: SeamForward; runner: ExpertRunner & { release(): Promise<void> } }> {
    this.seamPath ??= (async () => {
      const runner = await localRunner(this.checkpoint, this.session);
      return { path: await SeamForward.create(this.checkpoint, this.session, runner), runner };
    })();
    return this.seamPath;
  }

  private validate(inputs: readonly StepInput[]): void {
    const { vocabSize, maxPositions } = this.config;
    if (inputs.length === 0) throw new InvalidInputError("batch", "is empty");
    for (const { sequence, tokens } of inputs) {
      if (tokens.length === 0) throw new InvalidInputError("tokens", "a sequence in the batch has no new tokens");
      const total = sequence.length + tokens.length;
      if (total > maxPositions)
        throw new LimitError("sequence length", maxPositions, total, "the model's context length (max_position_embeddings)");
      for (const t of tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= vocabSize)
          throw new InvalidInputError("tokens", `token id ${t} is outside the vocabulary [0, ${vocabSize})`);
      }
    }
  }

  async release(): Promise<void> {
    await this.path.release();
    if (this.seamPath) {
      const { path, runner } = await this.seamPath;
      await path.release();
      await runner.release();
    }
    if (this.runner instanceof LocalExpertRunner || this.runner instanceof NbitsExpertRunner) await this.runner.release();
  }
}

/** The routed experts of a checkpoint computed in this process: f32, or low-bit when quantised. */
function localRunner(ckpt: CheckpointType, session: SessionConfig): Promise<LocalExpertRunner | NbitsExpertRunner> {
  if (ckpt.lowRank)
    return NbitsExpertRunner.fromGraphs(ckpt, session, (l, e) => buildLowRankExpertGraph(ckpt.config.hiddenSize, ckpt.lowRankExpert(l, e)));
  return ckpt.quantization ? NbitsExpertRunner.create(ckpt, session) : LocalExpertRunner.create(ckpt, session);
}
