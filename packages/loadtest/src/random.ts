// Seeded randomness for reproducible load: a 32-bit PRNG (mulberry32), exponential and gamma
// variates (Marsaglia–Tsang). Legend: k gamma shape, θ gamma scale; mean k·θ, variance k·θ².
import { seededRandom } from "@expertmesh/moe";

export type Random = () => number;
export { seededRandom };

function normal(rand: Random): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Gamma(k, θ) variate. k = 1 is the exponential distribution with mean θ. */
export function gamma(rand: Random, k: number, theta: number): number {
  if (k < 1) return gamma(rand, k + 1, theta) * rand() ** (1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rand);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rand();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * theta;
  }
}
