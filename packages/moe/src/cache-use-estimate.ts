// The probability that an expert is used the next time its layer runs, learned online from what the
// cache has seen (no trace knowledge): a table of observed use rates indexed by the expert's layer, its age
// (steps since its last use, capped) and its predicted demand p (bucketed). It calibrates whatever
// predictor it is given: a sharp predictor makes p decisive, a flat one leaves age (recency) to decide, as
// LRU does. Two tables: "now" for a layer still to run in the current step (features before the step),
// "next" for a layer that has run (features after the step, predicting the step that follows); its demand
// feature is the predicted demand of the step that follows where the caller has one (a next-step
// predictor), else the current step's.
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, A age buckets, Q demand buckets
// (this file's), p predicted demand, u use probability.

const A = 16;
const EDGES = [0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9]; // Q = 9 buckets
const CENTERS = [0.01, 0.035, 0.075, 0.15, 0.275, 0.425, 0.6, 0.8, 0.95];
const Q = CENTERS.length;
const PSEUDO = 2; // prior observations per cell, at the bucket's center

function bucket(p: number): number {
  let q = 0;
  while (q < EDGES.length && p >= EDGES[q]) q++;
  return q;
}

export class UseEstimator {
  private readonly lastUsed: Int32Array; // [L*E]: step of last use, or -1
  private readonly now: { hits: Float64Array; count: Float64Array }; // [L, A, Q]
  private readonly next: { hits: Float64Array; count: Float64Array }; // [L, A, Q]
  private readonly snapAge: Int16Array; // [L*E]: age after the last run of the layer (-1: none yet)
  private readonly snapQ: Uint8Array; // [L*E]: its demand bucket then

  constructor(
    L: number,
    private readonly E: number,
  ) {
    this.lastUsed = new Int32Array(L * E).fill(-1);
    const table = () => {
      const hits = new Float64Array(L * A * Q);
      const count = new Float64Array(L * A * Q).fill(PSEUDO);
      for (let i = 0; i < hits.length; i++) hits[i] = PSEUDO * CENTERS[i % Q];
      return { hits, count };
    };
    this.now = table();
    this.next = table();
    this.snapAge = new Int16Array(L * E).fill(-1);
    this.snapQ = new Uint8Array(L * E);
  }

  private age(key: number, step: number): number {
    const last = this.lastUsed[key];
    return last < 0 ? A - 1 : Math.min(A - 1, step - last);
  }

  private rate(t: { hits: Float64Array; count: Float64Array }, key: number, age: number, p: number): number {
    const i = (Math.floor(key / this.E) * A + age) * Q + bucket(p);
    return t.hits[i] / t.count[i];
  }

  /** u of an expert whose layer has not yet run in step `step`, with demand p for this step. */
  beforeRun(key: number, step: number, p: number): number {
    return this.rate(this.now, key, this.age(key, step), p);
  }

  /** u at step + 1 of an expert whose layer has run in step `step`, with demand p (the next step's where known, as in `observe`). */
  afterRun(key: number, step: number, p: number): number {
    return this.rate(this.next, key, this.age(key, step), p);
  }

  /**
   * Layer `layer` ran in step `step` with `demand` [L, E]; `used(key)` says which experts it used; `next`
   * [L, E], where known, the predicted demand of step + 1 (the "next" table's feature).
   */
  observe(layer: number, step: number, demand: Float32Array, used: (key: number) => boolean, next?: Float32Array): void {
    for (let e = 0; e < this.E; e++) {
      const key = layer * this.E + e;
      const u = used(key) ? 1 : 0;
      const q = bucket(demand[key]);
      const i = (layer * A + this.age(key, step)) * Q + q;
      this.now.count[i]++;
      this.now.hits[i] += u;
      if (this.snapAge[key] >= 0) {
        const j = (layer * A + this.snapAge[key]) * Q + this.snapQ[key];
        this.next.count[j]++;
        this.next.hits[j] += u;
      }
      if (u) this.lastUsed[key] = step;
      this.snapAge[key] = this.age(key, step);
      this.snapQ[key] = next === undefined ? q : bucket(next[key]);
    }
  }
}
