// Routing statistics of a model on calibration tokens, per layer and expert (what MC-SMoE and MC-MoE
// compress by): activation frequency (share of tokens that route to the expert; a layer's sum is k),
// mean routing weight of the tokens that chose it, and the router-logit similarity of two experts
// (MC-SMoE: cosine similarity of their columns of router logits over the calibration tokens), and how often
// two experts are chosen by the same token (co-selection: what merging two experts into one costs a top-k
// model, whose token then gets one expert where it had two).
//
// Letters (glossary: docs/ARCHITECTURE.md): L layers, E experts per layer, k experts per token, N tokens.

export interface LayerStats {
  layer: number;
  /** [E] activations / N. */
  frequency: number[];
  /** [E] mean renormalised gate weight over the tokens that chose the expert (0 for an unused expert). */
  meanWeight: number[];
  /** [E][E] cosine similarity of the experts' router-logit columns; null when no logits were seen. */
  logitSimilarity: number[][] | null;
  /** [E][E] share of tokens that chose both experts i and j (i != j; the diagonal is 0). */
  coSelection: number[][];
}

export interface RoutingStats {
  numLayers: number;
  numExperts: number;
  topK: number;
  tokens: number;
  layers: LayerStats[];
}

export class StatsAccumulator {
  private readonly count: Float64Array; // [L, E]
  private readonly weightSum: Float64Array; // [L, E]
  private readonly gram: Float64Array; // [L, E, E] sums of logit products
  private readonly pairs: Float64Array; // [L, E, E] tokens that chose both i and j
  private readonly tokensPerLayer: Float64Array; // [L]
  private readonly logitTokens: Float64Array; // [L]

  constructor(
    readonly numLayers: number,
    readonly numExperts: number,
    readonly topK: number,
  ) {
    const L = numLayers;
    const E = numExperts;
    this.count = new Float64Array(L * E);
    this.weightSum = new Float64Array(L * E);
    this.gram = new Float64Array(L * E * E);
    this.pairs = new Float64Array(L * E * E);
    this.tokensPerLayer = new Float64Array(L);
    this.logitTokens = new Float64Array(L);
  }

  /** Adds one layer's routing of N tokens: experts and weights [N, k]. */
  addRouting(layer: number, experts: ArrayLike<number>, weights: ArrayLike<number>): void {
    const { numExperts: E, topK: k } = this;
    const N = experts.length / k;
    for (let i = 0; i < N * k; i++) {
      const e = experts[i];
      if (!(e >= 0 && e < E)) throw new RangeError(`routing of layer ${layer}: expert ${e} outside [0, ${E})`);
      this.count[layer * E + e] += 1;
      this.weightSum[layer * E + e] += weights[i];
    }
    for (let t = 0; t < N; t++) {
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          const [i, j] = [experts[t * k + a], experts[t * k + b]];
          if (i !== j) this.pairs[(layer * E + i) * E + j] += 1;
        }
      }
    }
    this.tokensPerLayer[layer] += N;
  }

  /** Adds one layer's router logits [N, E]. */
  addLogits(layer: number, logits: Float32Array): void {
    const E = this.numExperts;
    const N = logits.length / E;
    const g = layer * E * E;
    for (let t = 0; t < N; t++) {
      const row = t * E;
      for (let i = 0; i < E; i++) {
        const a = logits[row + i];
        for (let j = i; j < E; j++) this.gram[g + i * E + j] += a * logits[row + j];
      }
    }
    this.logitTokens[layer] += N;
  }

  finish(): RoutingStats {
    const { numLayers: L, numExperts: E, topK } = this;
    const layers: LayerStats[] = [];
    for (let l = 0; l < L; l++) {
      const N = this.tokensPerLayer[l];
      const frequency: number[] = [];
      const meanWeight: number[] = [];
      for (let e = 0; e < E; e++) {
        const c = this.count[l * E + e];
        frequency.push(N > 0 ? c / N : 0);
        meanWeight.push(c > 0 ? this.weightSum[l * E + e] / c : 0);
      }
      let logitSimilarity: number[][] | null = null;
      if (this.logitTokens[l] > 0) {
        const g = (i: number, j: number) => this.gram[l * E * E + Math.min(i, j) * E + Math.max(i, j)];
        logitSimilarity = Array.from({ length: E }, (_, i) =>
          Array.from({ length: E }, (_, j) => {
            const d = Math.sqrt(g(i, i) * g(j, j));
            return d > 0 ? g(i, j) / d : i === j ? 1 : 0;
          }),
        );
      }
      const coSelection = Array.from({ length: E }, (_, i) =>
        Array.from({ length: E }, (_, j) => (N > 0 ? this.pairs[(l * E + i) * E + j] / N : 0)),
      );
      layers.push({ layer: l, frequency, meanWeight, logitSimilarity, coSelection });
    }
    return { numLayers: L, numExperts: E, topK, tokens: this.tokensPerLayer[0] ?? 0, layers };
  }
}
