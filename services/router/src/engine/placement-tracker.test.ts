// The router's layout follows the heartbeats: it grows once every new shard serves, stays put while the
// layout in use covers every expert, and falls back when it stops covering; every router computes the
// same layout from the same heartbeats.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Placement } from "@expertmesh/moe";
import type { ShardHeartbeat } from "@expertmesh/proto";
import { PlacementTracker } from "./placement-tracker.js";

const MODEL = { numLayers: 4, numExperts: 16 };
const hb = (shardId: number, shards: number, replicas: number, address: string, extra: Partial<ShardHeartbeat> = {}): ShardHeartbeat => ({
  shardId,
  shards,
  replicas,
  address,
  deviceResident: [],
  inFlight: 0,
  deviceUsedBytes: 0,
  deviceBudgetBytes: 0,
  sentAtMs: 0,
  intervalMs: 1000,
  draining: false,
  ignoresHints: false,
  ...extra,
});
const statik = () => new PlacementTracker({ addresses: ["a0:1", "a1:1"], replicas: 1 }, MODEL);

test("a mesh grows from 2 to 3 shards once all 3 new shards heartbeat, not before", () => {
  const t = statik();
  assert.equal(t.observe(hb(0, 2, 1, "a0:1"), 0), undefined);
  assert.equal(t.observe(hb(1, 2, 1, "a1:1"), 0), undefined);
  assert.equal(t.observe(hb(0, 3, 1, "b0:1"), 10), undefined);
  assert.equal(t.observe(hb(1, 3, 1, "b1:1"), 20), undefined);
  const next = t.observe(hb(2, 3, 1, "b2:1"), 30);
  assert.deepEqual(next, { shards: 3, replicas: 1, addresses: ["b0:1", "b1:1", "b2:1"] });
  assert.equal(t.layout, next);
  // Old shards going away changes nothing; the new layout is in use.
  assert.equal(t.observe(hb(0, 2, 1, "a0:1", { draining: true }), 40), undefined);
  assert.equal(t.switches, 1);
});

test("the layout in use is kept while it covers every expert; a larger one must cover them all", () => {
  const t = statik();
  t.observe(hb(0, 2, 1, "a0:1"), 0);
  t.observe(hb(1, 2, 1, "a1:1"), 0);
  // With replicas 2 of 3, shards 1 and 2 alone own every expert ((g + r) mod 3 for r < 2 always meets 1 or 2).
  assert.equal(t.observe(hb(1, 3, 2, "c1:1"), 0), undefined);
  const next = t.observe(hb(2, 3, 2, "c2:1"), 0);
  assert.deepEqual(next, { shards: 3, replicas: 2, addresses: ["a0:1", "c1:1", "c2:1"] }, "shard 0's address from the old layout");
});

test("falls back to a smaller layout when the larger one stops covering (a shard drains or goes silent)", () => {
  const t = new PlacementTracker({ addresses: ["b0:1", "b1:1", "b2:1"], replicas: 1 }, MODEL);
  for (const id of [0, 1, 2]) t.observe(hb(id, 3, 1, `b${id}:1`), 0);
  for (const id of [0, 1]) assert.equal(t.observe(hb(id, 2, 1, `a${id}:1`), 100), undefined, "3 shards still cover");
  // Shard 2 of the 3-shard layout is silent for more than 3 intervals.
  assert.equal(t.observe(hb(0, 3, 1, "b0:1"), 2000), undefined);
  assert.equal(t.observe(hb(0, 2, 1, "a0:1"), 3400), undefined, "shard 1 of the 2-shard layout is silent too");
  const back = t.observe(hb(1, 2, 1, "a1:1"), 3500);
  assert.deepEqual(back, { shards: 2, replicas: 1, addresses: ["a0:1", "a1:1"] });
});

test("a shard of the layout in use that advertises a new address is dialled there", () => {
  const t = statik();
  t.observe(hb(0, 2, 1, "a0:1"), 0);
  assert.equal(t.observe(hb(1, 2, 1, "a1:1"), 0), undefined, "the addresses it was started with");
  assert.deepEqual(t.observe(hb(1, 2, 1, "z1:1"), 10), { shards: 2, replicas: 1, addresses: ["a0:1", "z1:1"] });
});

test("the model may be given as its whole config: only L and E are used", () => {
  const config = { ...MODEL, hiddenSize: 128, rmsNormEps: 1e-5, architecture: "MixtralForCausalLM" };
  const t = new PlacementTracker({ addresses: ["a0:1"], replicas: 1 }, config);
  assert.deepEqual(t.observe(hb(0, 2, 1, "b0:1"), 0), undefined);
  assert.deepEqual(t.observe(hb(1, 2, 1, "b1:1"), 0), { shards: 2, replicas: 1, addresses: ["b0:1", "b1:1"] });
});

test("no heartbeats (no NATS) or unusable ones: the static layout stays", () => {
  const t = statik();
  assert.deepEqual(t.layout, { shards: 2, replicas: 1, addresses: ["a0:1", "a1:1"] });
  for (const id of [0, 1, 2]) assert.equal(t.observe(hb(id, 3, 1, "0.0.0.0:50061"), 0), undefined, "a wildcard address cannot be dialled");
  assert.equal(t.observe(hb(3, 3, 1, "x:1"), 0), undefined, "an id beyond the count is ignored");
  assert.equal(t.observe(hb(0, 2, 3, "x:1"), 0), undefined, "replicas beyond shards is ignored");
});

test("routers that see the same heartbeats, in any order, choose the same layout, whose placement owns every expert", () => {
  const beats = [
    hb(0, 2, 1, "a0:1"),
    hb(1, 2, 1, "a1:1"),
    hb(0, 4, 2, "d0:1"),
    hb(1, 4, 2, "d1:1"),
    hb(2, 4, 2, "d2:1"),
    hb(3, 4, 2, "d3:1"),
    hb(2, 3, 1, "b2:1"),
  ];
  const layouts = [beats, [...beats].reverse(), [beats[3], beats[0], beats[5], beats[2], beats[6], beats[1], beats[4]]].map((order) => {
    const t = statik();
    for (const b of order) t.observe(b, 0);
    return t.layout;
  });
  assert.deepEqual(layouts[1], layouts[0]);
  assert.deepEqual(layouts[2], layouts[0]);
  assert.deepEqual(layouts[0], { shards: 4, replicas: 2, addresses: ["d0:1", "d1:1", "d2:1", "d3:1"] });
  const p = new Placement({ ...MODEL, shards: 4, replicas: 2 });
  const owned = new Set([0, 1, 2, 3].flatMap((s) => p.ownedBy(s).map(([l, e]) => l * 16 + e)));
  assert.equal(owned.size, 64);
});
