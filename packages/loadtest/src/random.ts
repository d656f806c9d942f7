// Seeded randomness for reproducible load: a 32-bit PRNG (mulberry32), exponential and gamma
// variates (Marsaglia–Tsang). Legend: k gamma shape, θ gamma scale; mean k·θ, variance k·θ².
export type Random = () => number;

/** Uniform in [0, 1), reproducible from `seed`. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
