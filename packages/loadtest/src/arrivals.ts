// When each request of an open-loop run is scheduled: a renewal process at `rate` requests/s whose gaps
// are Gamma(k = burstiness, θ = 1/(rate·burstiness)), the convention of vLLM's benchmark_serving.
// burstiness 1: Poisson arrivals (exponential gaps, coefficient of variation 1); below 1: burstier
// (CV² = 1/burstiness); above 1: more even; the mean rate is `rate` in every case.
import { gamma, type Random } from "./random.js";

export interface ArrivalOptions {
  /** Mean requests per second (> 0). */
  readonly rate: number;
  /** Gamma shape of the gaps; 1 = Poisson. */
  readonly burstiness: number;
  /** Schedule ends at this many seconds after the start. */
  readonly durationS: number;
  /** And at this many requests. */
  readonly maxRequests: number;
}

/** Scheduled start times in ms after the run's start, ascending, all below durationS·1000. */
export function arrivalSchedule(o: ArrivalOptions, rand: Random): number[] {
  if (!(o.rate > 0 && Number.isFinite(o.rate))) throw new RangeError(`rate must be a finite number > 0, got ${o.rate}`);
  if (!(o.burstiness > 0 && Number.isFinite(o.burstiness)))
    throw new RangeError(`burstiness must be a finite number > 0, got ${o.burstiness}`);
  const out: number[] = [];
  const endMs = o.durationS * 1000;
  let t = 0;
  while (out.length < o.maxRequests) {
    t += gamma(rand, o.burstiness, 1 / (o.rate * o.burstiness)) * 1000;
    if (t >= endMs) break;
    out.push(t);
  }
  return out;
}
