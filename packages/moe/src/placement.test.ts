import assert from "node:assert/strict";
import { test } from "node:test";
import { Placement } from "./placement.js";

test("every expert has R distinct owners and each layer spreads evenly over the shards", () => {
  const p = new Placement({ numLayers: 4, numExperts: 16, shards: 3, replicas: 2 });
  for (let l = 0; l < 4; l++) {
    const perShard = [0, 0, 0];
    for (let e = 0; e < 16; e++) {
      const owners = p.owners(l, e);
      assert.equal(new Set(owners).size, 2);
      owners.forEach((s) => {
        perShard[s]++;
      });
    }
    assert.ok(Math.max(...perShard) - Math.min(...perShard) <= 2, `layer ${l}: ${perShard}`);
  }
  const owned = [0, 1, 2].map((s) => p.ownedBy(s).length);
  assert.equal(
    owned.reduce((a, b) => a + b),
    4 * 16 * 2,
  );
});

test("placement is a pure function of (L, E, S, R), and invalid specs are refused", () => {
  const a = new Placement({ numLayers: 2, numExperts: 8, shards: 4, replicas: 1 });
  const b = new Placement({ numLayers: 2, numExperts: 8, shards: 4, replicas: 1 });
  assert.deepEqual(a.ownedBy(3), b.ownedBy(3));
  assert.deepEqual(a.owners(1, 5), [(1 * 8 + 5) % 4]);
  assert.throws(() => new Placement({ numLayers: 2, numExperts: 8, shards: 2, replicas: 3 }), /replicas 3 exceeds shards 2/);
  assert.throws(() => new Placement({ numLayers: 2, numExperts: 8, shards: 0, replicas: 1 }), /shards must be a positive integer/);
});
