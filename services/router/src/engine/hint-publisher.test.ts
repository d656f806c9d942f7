import assert from "node:assert/strict";
import { test } from "node:test";
import { PrefetchHint } from "@expertmesh/proto";
import type { NatsLink } from "@expertmesh/runtime";
import { HintPublisher } from "./hint-publisher.js";

test("a hint names the predicted experts with the probability that the step uses each, 1 - Π(1 - p)", () => {
  const sent: { subject: string; hint: PrefetchHint }[] = [];
  const link = {
    publish: (subject: string, data: Uint8Array) => sent.push({ subject, hint: PrefetchHint.decode(data) }),
  } as unknown as NatsLink;
  // L=1, E=4, k=1; two tokens: p = [0.5, 0.5, 0, 0] and [0.5, 0, 0.5, 0].
  new HintPublisher(link, 1, 4, 1, 1).publishPrediction([Float32Array.from([0.5, 0.5, 0, 0]), Float32Array.from([0.5, 0, 0.5, 0])]);
  assert.equal(sent.length, 1);
  const { hint } = sent[0];
  assert.deepEqual(hint.expertIds, [0, 1]);
  assert.deepEqual(
    hint.scores.map((x) => +x.toFixed(6)),
    [0.75, 0.5],
  );
  assert.equal(hint.correction, false);
});
