import assert from "node:assert/strict";
import { test } from "node:test";
import { buildNbitsExpertGraph } from "../graphs/expert-nbits-graph.js";
import { createSession, DEFAULT_SESSION_CONFIG, floatTensor } from "../ort-session.js";
import { dequantizeNbits, nbitsBytes, nbitsShape, unpackCode } from "./nbits-layout.js";
import { quantizeNbits } from "./nbits-quantize.js";

function rand(seed: number) {
  let s = seed;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

test("quantizeNbits: each dequantised weight is within half a step of the original clamped to its block's grid, at 2, 4 and 8 bits", () => {
  const r = rand(3);
  const N = 5,
    K = 40,
    G = 16; // K not a multiple of G: the last block is padded
  const W = Float32Array.from({ length: N * K }, r);
  for (const bits of [2, 4, 8]) {
    const q = quantizeNbits(W, N, K, bits, G);
    const back = dequantizeNbits(q);
    const { blocks, zeroBytes } = q.shape;
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const b = Math.floor(k / G);
        const scale = q.scales[n * blocks + b];
        const zero = unpackCode(q.qzeros, n * zeroBytes, b, bits);
        const clamped = Math.min((2 ** bits - 1 - zero) * scale, Math.max(-zero * scale, W[n * K + k]));
        assert.ok(Math.abs(back[n * K + k] - clamped) <= scale / 2 + 1e-6, `bits ${bits} (${n}, ${k}): ${back[n * K + k]} vs ${clamped}`);
      }
    }
    if (bits === 8)
      W.forEach((v, i) => {
        assert.ok(Math.abs(back[i] - v) <= q.scales[Math.floor(i / K) * blocks + Math.floor((i % K) / G)] / 2 + 1e-6);
      });
  }
});

test("quantizeNbits: mean squared error falls about 4x per extra bit (2 -> 4 bits at least 10x)", () => {
  const r = rand(5);
  const N = 32,
    K = 128;
  const W = Float32Array.from({ length: N * K }, r);
  const mse = (bits: number) => {
    const back = dequantizeNbits(quantizeNbits(W, N, K, bits, 32));
    return back.reduce((a, v, i) => a + (v - W[i]) ** 2, 0) / W.length;
  };
  assert.ok(mse(2) > 10 * mse(4), `${mse(2)} vs ${mse(4)}`);
  assert.ok(mse(4) > 10 * mse(8), `${mse(4)} vs ${mse(8)}`);
});

test("nbitsBytes counts codes, f32 scales and packed zero points", () => {
  const s = nbitsShape(256, 128, 4, 32); // 4 blocks of 16 bytes, 4 scales, 2 bytes of zero points per row
  assert.equal(nbitsBytes(s), 256 * (4 * 16 + 4 * 4 + 2));
});

test("MatMulNBits expert graph equals a JS SwiGLU expert on the dequantised weights (accuracy 0: 1e-4 relative; 4: 2e-2)", async () => {
  const r = rand(11);
  const D = 64,
    F = 48,
    T = 3;
  for (const bits of [2, 4, 8]) {
    const w = (n: number, k: number) => quantizeNbits(Float32Array.from({ length: n * k }, r), n, k, bits, 16);
    const q = { bits, w1: w(F, D), w3: w(F, D), w2: w(D, F) };
    const [w1, w3, w2] = [q.w1, q.w3, q.w2].map(dequantizeNbits);
    const x = Float32Array.from({ length: T * D }, r);
    const ref = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      const act = new Float64Array(F);
      for (let f = 0; f < F; f++) {
        let a = 0,
          b = 0;
        for (let d = 0; d < D; d++) {
          a += x[t * D + d] * w1[f * D + d];
          b += x[t * D + d] * w3[f * D + d];
        }
        act[f] = (a / (1 + Math.exp(-a))) * b;
      }
      for (let d = 0; d < D; d++) for (let f = 0; f < F; f++) ref[t * D + d] += act[f] * w2[d * F + f];
    }
    const norm = Math.sqrt(ref.reduce((a, v) => a + v * v, 0));
    for (const [accuracy, tol] of [
      [0, 1e-4],
      [4, 2e-2],
    ] as const) {
      const session = await createSession(buildNbitsExpertGraph(D, F, q, accuracy), DEFAULT_SESSION_CONFIG);
      const y = (await session.run({ x: floatTensor(x, [T, D]) })).y.data as Float32Array;
      await session.release();
      const err = Math.sqrt(y.reduce((a, v, i) => a + (v - ref[i]) ** 2, 0));
      assert.ok(err <= tol * norm, `bits ${bits} accuracy ${accuracy}: error ${err} of norm ${norm}`);
    }
  }
});
