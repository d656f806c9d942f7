// HintDemand: hints are wanted until every shard of the layout has said it ignores them; one shard
// that uses them (or changes its mind) brings them back; a new layout starts unknown again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { HintDemand } from "./hint-demand.js";

test("hints are wanted until every shard of the layout ignores them", () => {
  const d = new HintDemand(2);
  assert.equal(d.wanted, true, "nothing heard yet");
  d.observe(0, true);
  assert.equal(d.wanted, true, "shard 1 not heard yet");
  d.observe(5, true); // outside the layout
  assert.equal(d.wanted, true);
  d.observe(1, true);
  assert.equal(d.wanted, false, "both ignore hints");
  d.observe(1, false);
  assert.equal(d.wanted, true, "shard 1 now uses them");
  d.observe(1, true);
  assert.equal(d.wanted, false);
  d.reset(3);
  assert.equal(d.wanted, true, "a new layout: unknown shards");
  for (const s of [0, 1, 2]) d.observe(s, true);
  assert.equal(d.wanted, false);
});
