// Turns predictions into NATS prefetch hints (expertmesh.v1.hints.<layer>): per layer, the experts the
// step's tokens are predicted to need, ranked by predicted demand (the sum over tokens of each expert's
// probability), keeping those that cover `coverage` of the demand (at most `maxPerLayer`). Each named
// expert's score is the probability that the step uses it, 1 - Π_tokens (1 - p), the batch demand that
// the shard's policy reads (packages/moe batchDemand), so that shards and simulator see the same quantity.
// Also publishes corrections: experts the gate chose that the hint for that layer did not name.
import { PrefetchHint } from "@expertmesh/proto";
import { hintSubject, type NatsLink } from "@expertmesh/runtime";

export class HintPublisher {
  private step = 0;
  private lastHint: Set<number>[] = [];

  constructor(
    private readonly link: NatsLink,
    private readonly L: number,
    private readonly E: number,
    private readonly topK: number,
    private readonly coverage = 0.9,
  ) {}

  /** Publishes the predicted demand of one step (per token probabilities [L * E]). */
  publishPrediction(predictions: Float32Array[]): void {
    const L = this.L;
    const E = this.E;
    this.step++;
    this.lastHint = [];
    for (let l = 0; l < L; l++) {
      const demand = new Float64Array(E);
      const unused = new Float64Array(E).fill(1); // Π_tokens (1 - p)
      for (const p of predictions) {
        for (let e = 0; e < E; e++) {
          const q = Math.min(1, Math.max(0, p[l * E + e]));
          demand[e] += q;
          unused[e] *= 1 - q;
        }
      }
      const order = Array.from(demand.keys()).sort((a, b) => demand[b] - demand[a]);
      const total = demand.reduce((a, b) => a + b, 0);
      const maxPerLayer = Math.min(E, predictions.length * this.topK);
      const chosen: number[] = [];
      let mass = 0;
      for (const e of order) {
        if (chosen.length >= maxPerLayer || (chosen.length >= this.topK && mass >= this.coverage * total)) break;
        chosen.push(e);
        mass += demand[e];
      }
      this.lastHint.push(new Set(chosen));
      const hint: PrefetchHint = {
        layer: l,
        expertIds: chosen,
        scores: chosen.map((e) => 1 - unused[e]),
        step: this.step,
        correction: false,
      };
      this.link.publish(hintSubject(l), PrefetchHint.encode(hint).finish());
    }
  }

  /** After the gate of `layer` ran: publishes the experts it chose that the hint missed. */
  correct(layer: number, chosen: Iterable<number>): void {
    const hinted = this.lastHint[layer];
    if (!hinted) return;
    const missed: number[] = [];
    for (const e of new Set(chosen)) if (!hinted.has(e)) missed.push(e);
    if (missed.length === 0) return;
    const hint: PrefetchHint = { layer, expertIds: missed, scores: missed.map(() => 1), step: this.step, correction: true };
    this.link.publish(hintSubject(layer), PrefetchHint.encode(hint).finish());
  }
}
