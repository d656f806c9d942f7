// A flood of forged prefetch hints (5,000 a second of random experts, flagged as corrections so that
// each asks for a load now) against a mesh with --policy expertflow at a 25 % budget. Each shard's hint
// gate (services/expert-shard/src/hint-gate.ts) drops what exceeds its rate and passes at most
// --hint-expert-rate experts a second to prefetch, so the flood costs a bounded share of link and CPU:
// the tokens stay the in-process ones, the shards count what they dropped, and the experts let through
// stay within the budget. Latency under the flood is printed, not asserted (no timing ratio in
// `make test`); the reliability suite (`make test-reliability`) holds it to a stated bound.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { freePortRange, startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { PrefetchHint } from "@expertmesh/proto";
import { createNatsLink, hintSubject, silentLogger, type NatsLink } from "@expertmesh/runtime";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

const MAX_TOKENS = 16;
const HINT_EXPERT_RATE = 400;
let mesh: Mesh;
let link: NatsLink;

before(async () => {
  mesh = await startMesh({
    shards: 2,
    deviceBudget: "25%",
    policy: "expertflow",
    secure: false,
    metricsPort: await freePortRange(4), // router, 2 shards, predictor
    shardArgs: ["--hint-rate", "200", "--hint-expert-rate", String(HINT_EXPERT_RATE)],
  });
  link = createNatsLink({ servers: [mesh.nats!.url], name: "flooder", logger: silentLogger });
  await link.ready();
});
after(async () => {
  await link?.close();
  await mesh?.stop();
  await releaseReference();
});

async function counter(url: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `) || (labels === "" && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test("a hint flood is bounded by each shard's hint gate: same tokens, drops counted, admitted experts within the rate", async (t) => {
  const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, MAX_TOKENS)));
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  const timed = async () => {
    const ms: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = PROMPTS[i % PROMPTS.length]!;
      const t0 = performance.now();
      const r = await client.complete(p, { maxTokens: MAX_TOKENS });
      ms.push(performance.now() - t0);
      assert.deepEqual(r.tokenIds, want[i % PROMPTS.length], `prompt ${i}`);
    }
    return median(ms);
  };
  try {
    await timed(); // warm-up
    const baseline = await timed();
    // The bucket refills over the whole window between the two counter reads: time it from before the
    // first read to after the last (it was timed from the flood's start to its end, and a loaded machine's
    // slow metrics reads let the shard admit a few more in between).
    const t0 = performance.now();
    const admittedBefore = await Promise.all(mesh.shards.map((s) => counter(s.metrics!, "expertmesh_hint_experts_admitted_total")));
    let sent = 0;
    let step = 0;
    const flood = setInterval(() => {
      for (let i = 0; i < 25; i++) {
        const layer = (sent + i) % 4;
        const expertIds = Array.from({ length: 8 }, (_, j) => (step * 7 + j * 3 + i) % 16);
        link.publish(
          hintSubject(layer),
          PrefetchHint.encode({ layer, expertIds, scores: expertIds.map(() => 1), step: ++step, correction: true }).finish(),
        );
      }
      sent += 25;
    }, 5);
    let flooded: number;
    try {
      await new Promise((r) => setTimeout(r, 500));
      flooded = await timed();
    } finally {
      clearInterval(flood);
    }
    const after = await Promise.all(
      mesh.shards.map(async (s) => ({
        limited: await counter(s.metrics!, "expertmesh_hints_received_total", '{outcome="rate_limited"}'),
        admitted: await counter(s.metrics!, "expertmesh_hint_experts_admitted_total"),
      })),
    );
    const floodS = (performance.now() - t0) / 1000;
    for (const [i, { limited, admitted: admittedAfter }] of after.entries()) {
      const admitted = admittedAfter - admittedBefore[i]!;
      assert.ok(limited > 0, `shard ${i} dropped no hint of ${sent}`);
      // One second's burst plus the rate over the flood, plus the router's own hints in that time.
      assert.ok(admitted <= HINT_EXPERT_RATE * (floodS + 1) + 1, `shard ${i} passed ${admitted} hinted experts in ${floodS.toFixed(1)} s`);
    }
    t.diagnostic(
      `median latency: ${baseline.toFixed(0)} ms without, ${flooded.toFixed(0)} ms under the flood of ${sent} hints in ${floodS.toFixed(1)} s`,
    );
  } finally {
    client.close();
  }
});
