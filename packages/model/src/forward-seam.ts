// The forward path with routed experts behind the ExpertRunner seam (in this process, f32 or low-bit, or
// on expert shards): per decoder layer one run of the dense graph (attention, gate logits, shared
// experts or dense MLP), the gate in JS, the tokens grouped by expert and handed to the runner, and the
// weighted outputs added to the residual; then the head graph.
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, P past tokens, T = P + S keys, D hidden,
// K kv heads, Dh key head dim, Dv value head dim, E experts, k experts per token, N valid tokens, R rows that
// get logits (the forward pass's meaning).
import {
  gatherRows,
  mapSlots,
  maskPrunedSlots,
  planDispatch,
  protectedTokens,
  pruneRouting,
  route,
  scatterAddWeighted,
} from "@expertmesh/moe";
import type { Checkpoint } from "./checkpoint.js";
import type { ExpertRunner } from "./expert-runner.js";
import type { ForwardOptions, ForwardPath } from "./forward-path.js";
import { buildAttentionGraph } from "./graphs/attention-graph.js";
import { buildHeadGraph } from "./graphs/head-graph.js";
import { createSession, floatTensor, int64Tensor, type InferenceSession, type SessionConfig } from "./ort-session.js";
import { appendKv, KvScratch, pastKv, type BatchInput, type StepBatch } from "./step-batch.js";

export class SeamForward implements ForwardPath {
  readonly name = "seam";
  /** Past-KV buffers reused from step to step (allocating them each layer of each step was most of the router's garbage). */
  private readonly scratch = new KvScratch();

  private constructor(
    private readonly ckpt: Checkpoint,
    private readonly layers: InferenceSession[],
    private readonly head: InferenceSession,
    private readonly experts: ExpertRunner,
    private readonly gateBias: (Float32Array | undefined)[],
  ) {}

  static async create(ckpt: Checkpoint, session: SessionConfig, experts: ExpertRunner): Promise<SeamForward> {
    const c = ckpt.config;
    const layers: InferenceSession[] = [];
    for (let l = 0; l < c.numHiddenLayers; l++) layers.push(await createSession(buildAttentionGraph(ckpt, l), session));
    const gateBias = Array.from({ length: c.numLayers }, (_, m) => ckpt.gateBias(m));
    return new SeamForward(ckpt, layers, await createSession(buildHeadGraph(ckpt), session), experts, gateBias);
  }

  async run(inputs: readonly BatchInput[], batch: StepBatch, options: ForwardOptions): Promise<Float32Array> {
    const scratch = this.scratch.acquire();
    try {
      return await this.layersAndHead(inputs, batch, options, scratch);
    } finally {
      scratch?.release();
    }
  }

  private async layersAndHead(
    inputs: readonly BatchInput[],
    batch: StepBatch,
    options: ForwardOptions,
    scratch: KvScratch | undefined,
  ): Promise<Float32Array> {
    const c = this.ckpt.config;
    const { hiddenSize: D, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E, topK } = c;
    const { B, S, P, T, rows } = batch;
    const N = rows.length;
    const pos = int64Tensor(batch.pos, [B, S]);
    const mask = floatTensor(batch.mask, [B, 1, S, T]);
    let hidden = batch.x;
    // Decoder layer l; m counts the MoE layers (routing, experts and traces are indexed by m).
    for (let l = 0, m = 0; l < c.numHiddenLayers; l++) {
      options.signal?.throwIfAborted();
      // A session run reads its inputs only while it runs: the layer's scratch buffers are free again next step.
      const past = pastKv(inputs, l, batch, c, scratch);
      const out = await this.layers[l].run({
        x: floatTensor(hidden, [B, S, D]),
        pos,
        mask,
        past_k: floatTensor(past.k, [B, K, P, Dh]),
        past_v: floatTensor(past.v, [B, K, P, Dv]),
      });
      appendKv(inputs, l, batch, out.k_new.data as Float32Array, out.v_new.data as Float32Array);

      const h = out.h.data as Float32Array; // [B*S, D]
      const next = h; // the run's own output buffer: the residual stream accumulates in place
      const moeLayer = c.moeLayers[m] === l;
      const residual = moeLayer && options.onMoeInput ? gatherRows(h, rows, D) : undefined; // before the dense MLP adds in
      if (out.dense_out) {
        // Dense layers' MLP and shared experts: computed in the dense graph, never by the ExpertRunner.
        const dense = out.dense_out.data as Float32Array; // [B*S, D]
        for (let i = 0; i < next.length; i++) next[i] += dense[i];
      }
      if (moeLayer) {
        const hn = gatherRows(out.hn.data as Float32Array, rows, D); // [N, D]
        if (options.onMoeInput && residual) options.onMoeInput({ layer: m, residual, normed: hn });
        const logits = gatherRows(out.gate_logits.data as Float32Array, rows, E); // [N, E]
        const slots = this.ckpt.slotMap?.[m]; // merged / pruned checkpoints: E gate slots over fewer stored experts
        if (slots) maskPrunedSlots(logits, slots);
        const routing = route(logits, E, topK, c.gate, this.gateBias[m]);
        if (slots) mapSlots(routing.experts, slots);
        options.onRouting?.({ layer: m, experts: routing.experts, weights: routing.weights });
        let { experts: chosen, weights: chosenWeights } = routing;
        const pruning = options.pruning;
        if (pruning) {
          // On copies, after onRouting: traces, schedules and hints see the gate's choice; only compute is skipped.
          [chosen, chosenWeights] = [chosen.slice(), chosenWeights.slice()];
          const protect = protectedTokens(
            hn,
            D,
            inputs.map((i) => i.tokens.length),
            pruning.settings.protectShare,
            pruning.settings.protectScore,
          );
          pruning.counters.routed += chosen.length;
          pruning.counters.skipped += pruneRouting(chosen, chosenWeights, topK, pruning.settings.beta[m], protect);
        }
        const groups = planDispatch(chosen, chosenWeights, topK);
        const results = await this.experts.run(
          m,
          groups.map((g) => ({ expert: g.expert, x: gatherRows(hn, g.rows, D), rows: g.rows.length })),
          options.signal,
        );
        const moe = new Float32Array(N * D);
        groups.forEach((g, i) => {
          scatterAddWeighted(moe, results[i], g, D);
        });
        for (let i = 0; i < N; i++) {
          const o = rows[i] * D;
          for (let d = 0; d < D; d++) next[o + d] += moe[i * D + d];
        }
        m++;
      }
      hidden = next;
    }
    const x = gatherRows(hidden, batch.headRows, D);
    return (await this.head.run({ x: floatTensor(x, [batch.headRows.length, D]) })).logits.data as Float32Array;
  }

  async release(): Promise<void> {
    for (const s of [...this.layers, this.head]) await s.release();
  }
}
