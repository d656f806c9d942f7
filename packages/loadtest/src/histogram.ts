// An HDR-style histogram of non-negative integers (here: latencies in microseconds), log-bucketed with
// linear sub-buckets, so that memory grows with log(max) and every percentile is exact to a stated
// relative precision.
//
// Legend: v a recorded value; S = 2^SUB_BITS sub-buckets per power of two; e the exponent of a bucket
// (v >> e lies in [S/2, S)). Values below S are counted exactly; above, a value's bucket covers
// [m·2^e, (m+1)·2^e) with m = v >> e in [S/2, S), a relative width below 2/S = 1/1024 (SUB_BITS = 11):
// three significant decimal digits. Percentiles report the bucket's highest value (as HdrHistogram's
// highestEquivalentValue does), capped at the largest value recorded.

const SUB_BITS = 11;
const S = 1 << SUB_BITS; // 2048
const HALF = S >> 1; // 1024

/** Relative error bound of a reported value above the exact range (values below S are exact). */
export const HISTOGRAM_RELATIVE_PRECISION = 2 / S;

function indexOf(v: number): number {
  if (v < S) return v;
  const e = Math.floor(Math.log2(v)) - (SUB_BITS - 1);
  // Math.log2 can be off by one just below a power of two: correct so that v >> e lands in [HALF, S).
  let ex = e;
  while (Math.floor(v / 2 ** ex) >= S) ex++;
  while (ex > 0 && Math.floor(v / 2 ** ex) < HALF) ex--;
  return S + (ex - 1) * HALF + (Math.floor(v / 2 ** ex) - HALF);
}

/** Highest value that lands in bucket `i`. */
function highestOf(i: number): number {
  if (i < S) return i;
  const ex = Math.floor((i - S) / HALF) + 1;
  const m = ((i - S) % HALF) + HALF;
  return (m + 1) * 2 ** ex - 1;
}

export class Histogram {
  private counts = new Float64Array(S + HALF);
  private n = 0;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;

  /** Records `value` (rounded to an integer; negative values are refused). */
  record(value: number, count = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`histogram: value must be a finite number >= 0, got ${value}`);
    const v = Math.round(value);
    const i = indexOf(v);
    if (i >= this.counts.length) {
      const grown = new Float64Array(Math.max(i + 1, this.counts.length * 2));
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[i] += count;
    this.n += count;
    this.sum += v * count;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /** Adds every count of `other` into this histogram. */
  add(other: Histogram): void {
    if (other.counts.length > this.counts.length) {
      const grown = new Float64Array(other.counts.length);
      grown.set(this.counts);
      this.counts = grown;
    }
    for (let i = 0; i < other.counts.length; i++) this.counts[i] += other.counts[i];
    this.n += other.n;
    this.sum += other.sum;
    this.lo = Math.min(this.lo, other.lo);
    this.hi = Math.max(this.hi, other.hi);
  }

  get count(): number {
    return this.n;
  }

  get mean(): number {
    return this.n ? this.sum / this.n : NaN;
  }

  get min(): number {
    return this.n ? this.lo : NaN;
  }

  get max(): number {
    return this.n ? this.hi : NaN;
  }

  /**
   * The smallest recorded value v such that at least `p` percent of the values are <= v (nearest rank),
   * within HISTOGRAM_RELATIVE_PRECISION (reported as its bucket's highest value, capped at max).
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
    if (!this.n) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(highestOf(i), this.hi);
    }
    return this.hi;
  }
}
