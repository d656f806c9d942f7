// The forward pass of a Mixtral-style MoE model, one step for a batch of sequences of different lengths.
//
// Per step: embed the new tokens (left-padded to S), then per layer run the dense graph (attention +
// gate logits), apply the gate, group the tokens by expert, let the ExpertRunner compute each expert's
// tokens, and add the weighted expert outputs to the residual. After the last layer the head graph gives
// logits. Letters: B sequences, S new tokens (max over the batch), P past tokens (max), T = P + S,
// D hidden, K kv heads, Dh head dim, E experts, k experts per token, V vocabulary, N valid tokens.
import { gatherRows, mapSlots, maskPrunedSlots, planDispatch, route, scatterAddWeighted } from "@expertmesh/moe";
import { Checkpoint } from "./checkpoint.js";
import type { MoeConfig } from "./config.js";
import { InvalidInputError, LimitError } from "./errors.js";
import { LocalExpertRunner, type ExpertRunner } from "./expert-runner.js";
import { NbitsExpertRunner } from "./expert-runner-nbits.js";
import { buildAttentionGraph } from "./graphs/attention-graph.js";
import { buildHeadGraph } from "./graphs/head-graph.js";
import { KvCache } from "./kv-cache.js";
import { createSession, DEFAULT_SESSION_CONFIG, floatTensor, int64Tensor, type InferenceSession, type SessionConfig } from "./ort-session.js";

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

/** Routing of one layer for the N valid tokens of a step, in batch order (sequence, then position). */
export interface LayerRouting {
  layer: number;
  experts: Int32Array; // [N, k]
  weights: Float32Array; // [N, k]
}

/** The input of one layer's MoE block for the N valid tokens of a step, in batch order (as LayerRouting). */
export interface MoeInput {
  layer: number;
  /** [N, D] the residual stream after the layer's attention (x + attention), before its MoE block. */
  residual: Float32Array;
  /** [N, D] the same after the post-attention RMSNorm: what the gate and the experts see. */
  normed: Float32Array;
}

export interface StepOptions {
  /** Return logits for every new token (for scoring) instead of only each sequence's last one. */
  allLogits?: boolean;
  onRouting?: (routing: LayerRouting) => void;
  /** Called per layer before its gate, with the MoE block's input (e.g. to apply a later layer's gate early). */
  onMoeInput?: (input: MoeInput) => void;
  /** Aborts the step between layers and cancels expert work under way; the step then rejects. */
  signal?: AbortSignal;
}

export interface RuntimeOptions {
  session?: SessionConfig;
  /** Computes the experts; defaults to all experts in this process. */
  experts?: ExpertRunner;
}

export class MoeRuntime {
  private constructor(
    readonly checkpoint: Checkpoint,
    readonly config: MoeConfig,
    private readonly embed: Float32Array,
    private readonly layers: InferenceSession[],
    private readonly head: InferenceSession,
    readonly experts: ExpertRunner,
    private readonly gateBias: (Float32Array | undefined)[],
  ) {}

  static async load(dir: string, options: RuntimeOptions = {}): Promise<MoeRuntime> {
    const ckpt = Checkpoint.open(dir);
    const c = ckpt.config;
    const session = options.session ?? DEFAULT_SESSION_CONFIG;
    const embed = ckpt.tensor(ckpt.adapter.embedTokens, [c.vocabSize, c.hiddenSize]);
    const layers: InferenceSession[] = [];
    for (let l = 0; l < c.numHiddenLayers; l++) layers.push(await createSession(buildAttentionGraph(ckpt, l), session));
    const head = await createSession(buildHeadGraph(ckpt), session);
    const gateBias = Array.from({ length: c.numLayers }, (_, m) => ckpt.gateBias(m));
    const experts = options.experts ?? (ckpt.quantization ? await NbitsExpertRunner.create(ckpt, session) : await LocalExpertRunner.create(ckpt, session));
    return new MoeRuntime(ckpt, c, embed, layers, head, experts, gateBias);
  }

  newSequence(): Sequence {
    return new Sequence(this.config);
  }

  /**
   * Runs the new tokens of each input through the model, appending them to the sequences' caches.
   * Returns, per input, logits [V] of its last token, or [S_b, V] of all its tokens with `allLogits`.
   */
  async step(inputs: readonly StepInput[], options: StepOptions = {}): Promise<Float32Array[]> {
    const c = this.config;
    const { hiddenSize: D, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E, topK, vocabSize: V } = c;
    this.validate(inputs);
    const B = inputs.length;
    const S = Math.max(...inputs.map((i) => i.tokens.length));
    const P = Math.max(...inputs.map((i) => i.sequence.length));
    const T = P + S;

    // Embeddings, positions, mask; `valid` lists the rows (b * S + s) that hold real tokens.
    const x = new Float32Array(B * S * D);
    const pos = new BigInt64Array(B * S);
    const mask = new Float32Array(B * S * T).fill(-Infinity);
    const valid: number[] = [];
    inputs.forEach(({ sequence, tokens }, b) => {
      const n = tokens.length;
      const past = sequence.length;
      for (let s = 0; s < S; s++) {
        const row = b * S + s;
        const maskRow = row * T;
        const j = s - (S - n); // index among this sequence's new tokens, < 0 for padding
        if (j < 0) {
          mask[maskRow + P + s] = 0; // padding attends to itself only, to keep softmax finite
          continue;
        }
        valid.push(row);
        x.set(this.embed.subarray(tokens[j] * D, tokens[j] * D + D), row * D);
        pos[row] = BigInt(past + j);
        for (let t = P - past; t < P; t++) mask[maskRow + t] = 0;
        for (let t = S - n; t <= s; t++) mask[maskRow + P + t] = 0;
      }
    });
    const rows = Int32Array.from(valid);
    const N = rows.length;

    // Decoder layer l; m counts the MoE layers (routing, experts and traces are indexed by m).
    let hidden = x;
    for (let l = 0, m = 0; l < c.numHiddenLayers; l++) {
      options.signal?.throwIfAborted();
      const pastK = new Float32Array(B * K * P * Dh);
      const pastV = new Float32Array(B * K * P * Dv);
      inputs.forEach(({ sequence }, b) => sequence.cache.copyInto(l, pastK, pastV, b, P));
      const out = await this.layers[l].run({
        x: floatTensor(hidden, [B, S, D]),
        pos: int64Tensor(pos, [B, S]),
        mask: floatTensor(mask, [B, 1, S, T]),
        past_k: floatTensor(pastK, [B, K, P, Dh]),
        past_v: floatTensor(pastV, [B, K, P, Dv]),
      });
      const kNew = out.k_new.data as Float32Array;
      const vNew = out.v_new.data as Float32Array;
      inputs.forEach(({ sequence, tokens }, b) => sequence.cache.append(l, kNew, vNew, b, S, tokens.length));

      const h = out.h.data as Float32Array; // [B*S, D]
      const next = Float32Array.from(h);
      if (out.dense_out) {
        // Dense layers' MLP and shared experts: computed in the dense graph, never by the ExpertRunner.
        const dense = out.dense_out.data as Float32Array; // [B*S, D]
        for (let i = 0; i < next.length; i++) next[i] += dense[i];
      }
      if (c.moeLayers[m] === l) {
        const hn = gatherRows(out.hn.data as Float32Array, rows, D); // [N, D]
        if (options.onMoeInput) options.onMoeInput({ layer: m, residual: gatherRows(h, rows, D), normed: hn });
        const logits = gatherRows(out.gate_logits.data as Float32Array, rows, E); // [N, E]
        const slots = this.checkpoint.slotMap?.[m]; // merged / pruned checkpoints: E gate slots over fewer stored experts
        if (slots) maskPrunedSlots(logits, slots);
        const routing = route(logits, E, topK, c.gate, this.gateBias[m]);
        if (slots) mapSlots(routing.experts, slots);
        options.onRouting?.({ layer: m, experts: routing.experts, weights: routing.weights });
        const groups = planDispatch(routing.experts, routing.weights, topK);
        const results = await this.experts.run(
          m,
          groups.map((g) => ({ expert: g.expert, x: gatherRows(hn, g.rows, D), rows: g.rows.length })),
          options.signal,
        );
        const moe = new Float32Array(N * D);
        groups.forEach((g, i) => scatterAddWeighted(moe, results[i], g, D));
        for (let i = 0; i < N; i++) {
          const o = rows[i] * D;
          for (let d = 0; d < D; d++) next[o + d] += moe[i * D + d];
        }
        m++;
      }
      hidden = next;
    }
    for (const { sequence, tokens } of inputs) sequence.cache.commit(tokens.length);

    // Head: each sequence's last token, or all its tokens.
    const headRows: number[] = [];
    inputs.forEach(({ tokens }, b) => {
      const first = options.allLogits ? S - tokens.length : S - 1;
      for (let s = first; s < S; s++) headRows.push(b * S + s);
    });
    const headOut = await this.head.run({ x: floatTensor(gatherRows(hidden, Int32Array.from(headRows), D), [headRows.length, D]) });
    const all = headOut.logits.data as Float32Array;
    const result: Float32Array[] = [];
    let offset = 0;
    for (const { tokens } of inputs) {
      const n = options.allLogits ? tokens.length : 1;
      result.push(all.slice(offset * V, (offset + n) * V));
      offset += n;
    }
    return result;
  }

  private validate(inputs: readonly StepInput[]): void {
    const { vocabSize, maxPositions } = this.config;
    if (inputs.length === 0) throw new InvalidInputError("batch", "is empty");
    for (const { sequence, tokens } of inputs) {
      if (tokens.length === 0) throw new InvalidInputError("tokens", "a sequence in the batch has no new tokens");
      const total = sequence.length + tokens.length;
      if (total > maxPositions) throw new LimitError("sequence length", maxPositions, total, "the model's context length (max_position_embeddings)");
      for (const t of tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new InvalidInputError("tokens", `token id ${t} is outside the vocabulary [0, ${vocabSize})`);
      }
    }
  }

  async release(): Promise<void> {
    for (const s of [...this.layers, this.head]) await s.release();
    if (this.experts instanceof LocalExpertRunner || this.experts instanceof NbitsExpertRunner) await this.experts.release();
  }
}
