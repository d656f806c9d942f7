import assert from "node:assert/strict";
import { test } from "node:test";
import { arrivalSchedule } from "./arrivals.js";
import { seededRandom } from "./random.js";

function gapStats(times: number[]) {
  const gaps = times.map((t, i) => t - (i ? times[i - 1] : 0));
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const variance = gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length;
  return { mean, cv2: variance / mean ** 2 };
}

// Tolerances: 40,000 gaps give a standard error of the mean of 0.5 % (CV 1) and of CV² a few %;
// the bounds below are about 4 standard errors wide.
test("Poisson arrivals: mean gap 1/rate and squared coefficient of variation 1", () => {
  const t = arrivalSchedule({ rate: 50, burstiness: 1, durationS: 1e9, maxRequests: 40_000 }, seededRandom(1));
  const s = gapStats(t);
  assert.ok(Math.abs(s.mean - 20) < 0.4, `mean gap ${s.mean} ms`);
  assert.ok(Math.abs(s.cv2 - 1) < 0.06, `CV² ${s.cv2}`);
});

test("burstiness k keeps the rate and gives CV² = 1/k", () => {
  for (const k of [0.25, 4]) {
    const s = gapStats(arrivalSchedule({ rate: 50, burstiness: k, durationS: 1e9, maxRequests: 40_000 }, seededRandom(2)));
    assert.ok(Math.abs(s.mean - 20) < 20 * 0.04, `k=${k}: mean gap ${s.mean} ms`);
    assert.ok(Math.abs(s.cv2 - 1 / k) < (1 / k) * 0.12, `k=${k}: CV² ${s.cv2}`);
  }
});

test("the schedule stops at the duration and at the request count, and is reproducible", () => {
  const a = arrivalSchedule({ rate: 100, burstiness: 1, durationS: 2, maxRequests: 1e6 }, seededRandom(3));
  assert.ok(a.length > 150 && a.length < 250 && a.at(-1)! < 2000);
  assert.equal(arrivalSchedule({ rate: 100, burstiness: 1, durationS: 1e9, maxRequests: 10 }, seededRandom(3)).length, 10);
  assert.deepEqual(a, arrivalSchedule({ rate: 100, burstiness: 1, durationS: 2, maxRequests: 1e6 }, seededRandom(3)));
  assert.throws(
    () => arrivalSchedule({ rate: 0, burstiness: 1, durationS: 1, maxRequests: 1 }, seededRandom(1)),
    /rate must be a finite number > 0, got 0/,
  );
});
