// splitWork / joinOutputs: every row of every item in exactly one piece, no message over the byte bound,
// whole items passed as views, and outputs joined back in row order (checked against an identity "expert").
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ExpertWork } from "@expertmesh/model";
import { joinOutputs, pieceInput, splitWork } from "./dispatch-split.js";

const D = 4;

function work(rows: number[]): ExpertWork[] {
  let v = 0;
  return rows.map((r, expert) => ({ expert, rows: r, x: Float32Array.from({ length: r * D }, () => v++) }));
}

test("work under the bound is one message of whole items (views, not copies)", () => {
  const w = work([3, 1, 2]);
  const messages = splitWork(w, D, 6 * D * 4);
  assert.deepEqual(messages, [
    [
      { item: 0, start: 0, rows: 3 },
      { item: 1, start: 0, rows: 1 },
      { item: 2, start: 0, rows: 2 },
    ],
  ]);
  assert.equal(pieceInput(w, messages[0][0], D), w[0].x);
});

test("larger work is cut at the bound, an item by rows across messages, and joins back in order", () => {
  for (const [rows, maxRows] of [
    [[5, 1, 7], 3],
    [[10], 4],
    [[1, 1, 1], 1],
    [[2, 0, 3], 2],
  ] as [number[], number][]) {
    const w = work(rows);
    const messages = splitWork(w, D, maxRows * D * 4 + 3); // a partial row's bytes do not count
    const covered = rows.map(() => 0);
    for (const pieces of messages) {
      assert.ok(pieces.reduce((n, p) => n + p.rows, 0) <= maxRows, `a message over ${maxRows} rows: ${JSON.stringify(pieces)}`);
      assert.equal(new Set(pieces.map((p) => p.item)).size, pieces.length, "an item twice in one message");
      for (const p of pieces) {
        assert.equal(p.start, covered[p.item], "pieces of an item out of order");
        covered[p.item] += p.rows;
      }
    }
    assert.deepEqual(covered, rows);
    // The identity expert: each piece's output is its input; joined, every item's output is its x.
    const outputs = messages.map((pieces) => pieces.map((p) => Float32Array.from(pieceInput(w, p, D))));
    const joined = joinOutputs(w, messages, outputs, D);
    joined.forEach((o, i) => {
      assert.deepEqual(o, w[i].x, `item ${i} of ${JSON.stringify(rows)}`);
    });
  }
});

test("a row larger than the bound still travels, one per message", () => {
  const w = work([2]);
  assert.deepEqual(splitWork(w, D, 1), [[{ item: 0, start: 0, rows: 1 }], [{ item: 0, start: 1, rows: 1 }]]);
});
