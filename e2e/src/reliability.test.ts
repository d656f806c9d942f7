// The short reliability suite (in `make test`): fuzz of every RPC, 2x overload, health under it, NATS
// killed and restarted, a shard killed under load with a replica, the router SIGTERMed under load. It
// prints the table and asserts each row's outcome; no timing bound is asserted here (the long suite,
// `make test-reliability`, holds the timing bounds).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { releaseReference } from "./reference.js";
import { runReliability } from "./reliability-suite.js";
import { reliabilityTable } from "./reliability-table.js";

after(releaseReference);

test("short reliability suite: every fault row holds", async (t) => {
  const rows = await runReliability({ long: false });
  for (const line of reliabilityTable(rows).split("\n")) t.diagnostic(line);
  assert.ok(rows.length >= 6, `${rows.length} rows`);
  assert.deepEqual(
    rows.filter((r) => !r.ok).map((r) => `${r.fault}: ${r.observed}`),
    [],
  );
});
