import assert from "node:assert/strict";
import { test } from "node:test";
import { MIN_REQUESTS, plotSvg } from "./plot.js";
import type { RequestRecord } from "./request-record.js";
import type { Distribution, WindowStats } from "./summary.js";

const dist = (count: number, base: number): Distribution => ({ count, mean: base, p50: base, p90: base * 2, p99: base * 3, max: base * 4 });
const window = (tS: number, count: number): WindowStats => ({
  tS,
  requests: count,
  errors: 0,
  e2e: dist(count, 100),
  ttft: dist(count, 10),
});
const record = (i: number): RequestRecord => ({
  index: i,
  warmup: false,
  scheduledMs: i * 10,
  sentMs: i * 10,
  firstTokenMs: i * 10 + 10,
  endMs: i * 10 + 100,
  outputTokens: 4,
  gapsMs: [],
  code: "OK",
});

const polylines = (svg: string, colour: string) => (svg.match(new RegExp(`<polyline[^>]*stroke="${colour}"`, "g")) ?? []).length;

test("percentile lines only over windows with enough requests, in both panels (e2e and TTFT)", () => {
  // Windows of 60, 60 requests, then two of 3: p99 and p50 lines over the first two only.
  const svg = plotSvg({
    title: "t",
    records: Array.from({ length: 126 }, (_, i) => record(i)),
    windows: [window(0, 60), window(1, 60), window(2, 3), window(3, 3)],
    windowS: 1,
    warmupS: 0,
    endS: 4,
  });
  const p99 = svg.match(/<polyline[^>]*stroke="#CC79A7"[^>]*points="([^"]*)"/g)!;
  assert.equal(p99.length, 2, "one p99 line per panel");
  for (const line of p99) assert.equal(line.split('points="')[1].trim().split(" ").length, 2, "two windows qualify");
  assert.equal(polylines(svg, "#009E73"), 2);
  assert.match(svg, /end-to-end latency/);
  assert.match(svg, /time to first token/);
  assert.match(svg, new RegExp(`p99 per 1 s window \\(≥ ${MIN_REQUESTS.p99}`));
});

test("no window with enough requests: no percentile line at all, the dots and max ticks stay", () => {
  const svg = plotSvg({ title: "t", records: [record(0), record(1)], windows: [window(0, 2)], windowS: 1, warmupS: 0, endS: 1 });
  assert.equal((svg.match(/<polyline/g) ?? []).length, 0);
  assert.equal((svg.match(/<circle/g) ?? []).length, 4, "two requests in each panel");
});
