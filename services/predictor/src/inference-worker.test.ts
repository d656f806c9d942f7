// The inference worker thread on its own: results, cancellation, and closing while a run is in flight.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { GraphBuilder } from "@expertmesh/model";
import { UnavailableError } from "@expertmesh/runtime";
import { InferenceWorker } from "./inference-worker.js";
import { tempDir, writeSlowModel } from "./testing.js";

const session = { threads: 1, executionProvider: "cpu" } as const;
const ids = (n: number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i));

test("a model without the predictor signature fails to start, naming what it lacks", async () => {
  const g = new GraphBuilder("plain");
  g.output(g.op("Identity", [g.input("x", "float32", [1])]), "y", "float32", [1]);
  await assert.rejects(
    InferenceWorker.start({ model: g.build(), session, numLayers: 2, numExperts: 4, maxQueue: 1 }),
    /not a predictor model: no input token_ids, input positions, output probabilities/,
  );
});

test("a request aborted while it waits is dropped; closing during a run fails it with UNAVAILABLE and ends the thread", async () => {
  const model = readFileSync(writeSlowModel(tempDir("worker-slow"), { numLayers: 2, numExperts: 4 }, 40));
  const worker = await InferenceWorker.start({ model, session, numLayers: 2, numExperts: 4, maxQueue: 4 });
  const running = worker.predict(ids(8192), ids(8192));
  const controller = new AbortController();
  const waiting = worker.predict(ids(4), ids(4), controller.signal);
  assert.equal(worker.queued, 1);
  controller.abort(new Error("client went away"));
  await assert.rejects(waiting, /client went away/);
  assert.equal(worker.queued, 0);
  const closed = worker.close();
  await assert.rejects(running, (e: unknown) => e instanceof UnavailableError && e.reason === "SHUTTING_DOWN");
  await closed;
  await assert.rejects(worker.predict(ids(1), ids(1)), UnavailableError);
});
