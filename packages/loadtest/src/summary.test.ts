import assert from "node:assert/strict";
import { test } from "node:test";
import type { RequestRecord } from "./request-record.js";
import { summarize } from "./summary.js";
import { plotSvg } from "./plot.js";

/** A completed request: scheduled at s, sent at `sent`, first token at f, then n-1 more tokens `gap` apart. */
function done(index: number, s: number, sent: number, f: number, n: number, gap: number): RequestRecord {
  return {
    index,
    warmup: false,
    scheduledMs: s,
    sentMs: sent,
    firstTokenMs: f,
    lastTokenMs: f + (n - 1) * gap,
    endMs: f + (n - 1) * gap + 1,
    outputTokens: n,
    promptTokens: 10,
    gapsMs: Array(n - 1).fill(gap),
    code: "OK",
    finishReason: "length",
  };
}

test("latencies are taken from the scheduled start; goodput, statuses and counts follow the records", () => {
  const records: RequestRecord[] = [
    { ...done(0, 0, 0, 100, 5, 10), warmup: true },
    done(1, 1000, 1000, 1100, 5, 10),
    // Held in the client 900 ms behind a stall: from its send it looks fast, from its schedule it is not.
    done(2, 1100, 2000, 2100, 5, 10),
    done(3, 1200, 1200, 1300, 5, 300),
    {
      index: 4,
      warmup: false,
      scheduledMs: 1300,
      sentMs: 1300,
      endMs: 1310,
      outputTokens: 0,
      gapsMs: [],
      code: "RESOURCE_EXHAUSTED",
      reason: "QUEUE_FULL",
      message: "full",
    },
    { index: 5, warmup: false, scheduledMs: 1400, outputTokens: 0, gapsMs: [], code: "NOT_SENT" },
  ];
  const s = summarize(
    { records, startedAt: 0, warmupMs: 1000, endMs: 3000, finishedMs: 3300 },
    { ttftMs: 500, tpotMs: 200, percentile: 99 },
  );
  assert.deepEqual(s.requests, { scheduled: 5, sent: 4, completed: 3, failed: 1, notSent: 1, warmup: 1 });
  assert.deepEqual(s.status, { OK: 3, RESOURCE_EXHAUSTED: 1, NOT_SENT: 1 });
  assert.deepEqual(s.errors[0], { code: "RESOURCE_EXHAUSTED", reason: "QUEUE_FULL", count: 1, example: "full" });
  assert.equal(s.latencyMs.ttft.max, 1000);
  assert.equal(s.latencyMs.ttftFromSend.max, 100);
  assert.equal(s.latencyMs.sendLag.max, 900);
  assert.equal(s.latencyMs.tpot.max, 300);
  assert.equal(s.latencyMs.itl.count, 12);
  // Good: request 1 only (2 misses TTFT, 3 misses TPOT).
  assert.equal(s.goodput.goodRequests, 1);
  assert.deepEqual(
    s.goodput.checks.map((c) => [c.metric, c.valueMs, c.met]),
    [
      ["ttft", 1000, false],
      ["tpot", 300, false],
    ],
  );
  // Elapsed from the measured start (1 s) to the last end (1300 + 4·300 + 1 = 2501 ms) or the schedule's end (3 s).
  assert.equal(s.throughput.elapsedS, 2);
  assert.equal(s.throughput.outputTokensPerS, 7.5);
  assert.equal(
    s.windows.reduce((a, w) => a + w.requests, 0),
    records.length,
  );
  const svg = plotSvg({ title: "t <&>", records, windows: s.windows, windowS: s.windowS, warmupS: 1, endS: 3 });
  assert.match(svg, /^<svg[\s\S]*t &lt;&amp;&gt;[\s\S]*<\/svg>$/);
});
