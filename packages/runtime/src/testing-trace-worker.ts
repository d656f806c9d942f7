// A worker thread for telemetry.test.ts, standing in for the router's dispatch worker: it receives a
// traceparent string in its message, continues the trace in a span of its own, calls a shard from the
// worker, and flushes its spans to the shared trace file before answering.

import { parentPort, workerData } from "node:worker_threads";
import { silentLogger } from "./logger.js";
import { initTelemetry } from "./telemetry-init.js";
import { withSpan, withTraceparent } from "./telemetry-trace.js";
import { testShardClient, unary } from "./testing.js";
import { float32Tensor } from "./tensor.js";

interface Setup {
  readonly env: Record<string, string>;
  readonly address: string;
}
interface Job {
  readonly traceparent: string | undefined;
}

const { env, address } = workerData as Setup;
const telemetry = initTelemetry({ serviceName: "worker-test", env, logger: silentLogger });
const client = testShardClient(address);
parentPort!.on("message", async ({ traceparent }: Job) => {
  try {
    await withTraceparent(traceparent, () =>
      withSpan("worker.dispatch", { "expertmesh.layer": 1 }, () =>
        unary(client.runExperts.bind(client), {
          layer: 1,
          inputs: [{ expertId: 2, hiddenStates: float32Tensor(new Float32Array(16).fill(1), [1, 16]) }],
        }),
      ),
    );
    await telemetry.forceFlush();
    parentPort!.postMessage({ ok: true });
  } catch (error) {
    parentPort!.postMessage({ ok: false, error: String(error) });
  } finally {
    client.close();
  }
});
