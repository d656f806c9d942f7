import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram, HISTOGRAM_RELATIVE_PRECISION } from "./histogram.js";
import { seededRandom } from "./random.js";

/** Nearest-rank percentile of the exact values: the independent reference. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

test("percentiles match the exact nearest-rank values within the stated precision (0.1 %)", () => {
  const rand = seededRandom(7);
  // Log-uniform from 1 µs to 100 s, plus a heavy tail: the spread latencies have.
  const values = Array.from({ length: 20_000 }, () => Math.round(10 ** (rand() * 8)));
  const h = new Histogram();
  for (const v of values) h.record(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const p of [0, 1, 50, 90, 99, 99.9, 100]) {
    const want = exact(sorted, p);
    const got = h.percentile(p);
    assert.ok(got >= want && got <= want * (1 + HISTOGRAM_RELATIVE_PRECISION), `p${p}: got ${got}, exact ${want}`);
  }
  assert.equal(h.count, values.length);
  assert.equal(h.min, sorted[0]);
  assert.equal(h.max, sorted.at(-1));
  assert.ok(Math.abs(h.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-6 * h.mean);
});

test("values below 2048 are exact; bucket edges around powers of two land in the right bucket", () => {
  const h = new Histogram();
  for (const v of [0, 1, 2047, 2048, 4095, 4096, 2 ** 30 - 1, 2 ** 30]) {
    const one = new Histogram();
    one.record(v);
    assert.equal(one.percentile(50), v);
    h.record(v);
  }
  assert.equal(h.percentile(25), 1);
});

test("add merges counts, sums and extremes", () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let i = 1; i <= 100; i++) (i % 2 ? a : b).record(i * 1000);
  a.add(b);
  assert.equal(a.count, 100);
  assert.equal(a.mean, 50_500);
  assert.equal(a.max, 100_000);
  assert.ok(Math.abs(a.percentile(50) - 50_000) <= 50_000 * HISTOGRAM_RELATIVE_PRECISION);
});

test("bad values and percentiles are refused naming the value", () => {
  assert.throws(() => new Histogram().record(-1), /value must be a finite number >= 0, got -1/);
  assert.throws(() => new Histogram().percentile(101), /percentile must be in \[0, 100\], got 101/);
  assert.ok(Number.isNaN(new Histogram().percentile(50)));
});
