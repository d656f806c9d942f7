// Which running sequences decode together. With a step batch T (router flag --step-batch) and more than T
// sequences running, an iteration of the batcher runs ceil(running / T) decode steps of at most T:
//   arrival  consecutive runs of T in admission order;
//   regroup  the route-aware regrouping of packages/moe (scheduler-regroup.ts): batches that activate
//            fewer distinct experts, judged on each sequence's predicted route for its next token.
// Prediction source: the predictor service's forecast for the sequence's next token when the engine has
// one (`predict`), else the sequence's last actual routing (the experts the gate chose for its previous
// token, captured from MoeRuntime.step's onRouting); a sequence with neither has an empty route.
// Every sequence is in exactly one step per iteration and decodes one token in it, so its tokens keep
// their order; each sequence owns its KV cache and its logits do not depend on its batch-mates, so the
// grouping never changes what it generates.
//
// Letters (glossary: docs/ARCHITECTURE.md): W running sequences, T tokens per decode step (the step batch: at
// most T sequences), L MoE layers, E experts per layer, k experts per token, N valid tokens of a step.
import type { LayerRouting } from "@expertmesh/model";
import { addExperts, arrivalBatches, emptyRouteSets, regroup } from "@expertmesh/moe";

export type ScheduleMode = "arrival" | "regroup";

export interface DecodeScheduleOptions {
  readonly mode: ScheduleMode;
  /** T; 0: every running sequence in one step. */
  readonly stepBatch: number;
}

export class DecodeSchedule {
  /** Per sequence, the experts of its last token: [L, k]. */
  private readonly routes = new WeakMap<object, Int32Array>();

  constructor(
    private readonly options: DecodeScheduleOptions,
    private readonly shape: { readonly numLayers: number; readonly numExperts: number; readonly topK: number },
  ) {
    if (!Number.isInteger(options.stepBatch) || options.stepBatch < 0)
      throw new RangeError(`step batch must be a non-negative integer, got ${options.stepBatch}`);
  }

  /** Sets a member's predicted route for its next token from probabilities [L * E] (top-k per layer). */
  predict(member: object, probs: Float32Array): void {
    const { numLayers: L, numExperts: E, topK: k } = this.shape;
    let route = this.routes.get(member);
    if (!route) this.routes.set(member, (route = new Int32Array(L * k)));
    for (let l = 0; l < L; l++) {
      const row = probs.subarray(l * E, (l + 1) * E);
      const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
      route.set(order.slice(0, k), l * k);
    }
  }

  /** The steps of one decode iteration over `members` (admission order): each member in exactly one. */
  plan<R extends object>(members: readonly R[]): R[][] {
    const T = this.options.stepBatch;
    if (T === 0 || members.length <= T) return members.length ? [[...members]] : [];
    const W = members.length;
    if (this.options.mode === "arrival") return arrivalBatches(W, T).map((b) => b.map((i) => members[i]));
    const { numLayers: L, numExperts: E, topK: k } = this.shape;
    const sets = emptyRouteSets(W, L, E);
    members.forEach((m, i) => {
      const route = this.routes.get(m);
      if (route) for (let l = 0; l < L; l++) addExperts(sets, i, l, route.subarray(l * k, (l + 1) * k));
    });
    return regroup(sets, T).map((b) => b.map((i) => members[i]));
  }

  /**
   * A hook for MoeRuntime.step's onRouting that keeps, per member, the routing of its last token in this
   * step; `tokens[i]` is member i's new-token count (the step's valid tokens are in member order).
   * Undefined when the schedule does not use routes.
   */
  recorder(members: readonly object[], tokens: readonly number[]): ((routing: LayerRouting) => void) | undefined {
    if (this.options.mode !== "regroup" || this.options.stepBatch === 0) return undefined; // nothing reads the routes
    const { numLayers: L, topK: k } = this.shape;
    const last: number[] = [];
    let n = 0;
    for (const t of tokens) last.push((n += t) - 1);
    return (routing) => {
      members.forEach((m, i) => {
        if (tokens[i] === 0) return;
        let route = this.routes.get(m);
        if (!route) this.routes.set(m, (route = new Int32Array(L * k)));
        route.set(routing.experts.subarray(last[i] * k, last[i] * k + k), routing.layer * k);
      });
    };
  }
}
