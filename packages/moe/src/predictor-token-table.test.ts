import assert from "node:assert/strict";
import { test } from "node:test";
import { buildTokenTable, tokenTableTopK } from "./predictor-token-table.js";

// Token 5 used experts {3, 1} twice and {3, 2} once at layer 0; token 7 used {0, 1}. L = 1, E = 4, k = 2.
const trace = {
  tokens: 4,
  numLayers: 1,
  numExperts: 4,
  topK: 2,
  tokenIds: Int32Array.from([5, 5, 7, 5]),
  experts: Uint16Array.from([3, 1, 1, 3, 0, 1, 3, 2]),
};

test("the token table predicts each token's most used experts, highest count first, lower id on ties", () => {
  const table = buildTokenTable([trace]);
  assert.equal(table.vocab, 8);
  assert.deepEqual(Array.from(tokenTableTopK(table, [5, 7], 2)), [3, 1, 0, 1]);
  assert.deepEqual(Array.from(tokenTableTopK(table, [5], 3)), [3, 1, 2]);
});

test("an unseen token id gets the frequency prior's experts", () => {
  const table = buildTokenTable([trace]);
  // Over all tokens: expert 1 x4, 3 x3, 0 x1, 2 x1.
  assert.deepEqual(Array.from(tokenTableTopK(table, [6, 4000], 2)), [1, 3, 1, 3]);
});

test("bad input names the limit and the value", () => {
  assert.throws(() => buildTokenTable([]), /no traces/);
  assert.throws(() => tokenTableTopK(buildTokenTable([trace]), [5], 5), /k=5 must be in 1..4/);
  assert.throws(() => buildTokenTable([trace, { ...trace, numExperts: 8 }]), /trace 1 has L=1 E=8 k=2, trace 0 has L=1 E=4 k=2/);
});
