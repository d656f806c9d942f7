import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeTrace, encodeTrace, tokenExperts, type RoutingTrace } from "./trace-format.js";

const trace: RoutingTrace = {
  numLayers: 2,
  numExperts: 8,
  topK: 2,
  tokens: 3,
  sequences: [
    { start: 0, length: 2 },
    { start: 2, length: 1 },
  ],
  tokenIds: Int32Array.from([0, 17, 5]),
  positions: Int32Array.from([0, 1, 0]),
  experts: Uint16Array.from([1, 2, 3, 4, 5, 6, 7, 0, 1, 3, 2, 6]),
  weights: Float32Array.from([0.6, 0.4, 0.5, 0.5, 0.9, 0.1, 0.7, 0.3, 0.55, 0.45, 0.8, 0.2]),
  source: "unit test",
};

test("a trace round-trips through its binary format, including odd-length sections", () => {
  const back = decodeTrace(encodeTrace(trace));
  assert.deepEqual(back, trace);
  assert.deepEqual(Array.from(tokenExperts(back, 1, 1)), [7, 0]);
});

test("a truncated or foreign file is refused with a clear error", () => {
  const buf = encodeTrace(trace);
  assert.throws(() => decodeTrace(buf.subarray(0, buf.length - 4), "t.bin"), /t\.bin: truncated/);
  assert.throws(() => decodeTrace(Buffer.from("hello world, not a trace"), "x"), /x: not a routing trace/);
});
