// The health sampler's thread (reliability-probes.ts sampleHealth): Health.Check at one address, one
// every `everyMs`, until the parent posts "stop"; then it posts the latencies (ms) and exits. It runs on
// its own event loop, so the test process's own work (the streams it drives) is not counted in a health
// answer's latency. A check that fails (an error, or not SERVING) counts as failed, with its time. It
// also records how late its own timer fires: what the machine adds to any wake-up, the checks' included.
import { parentPort, workerData } from "node:worker_threads";
import { Metadata } from "@grpc/grpc-js";
import { HealthClient, ServingStatus } from "@expertmesh/proto";
import { channelCredentialsFromFiles, channelOptions, type ClientTlsFiles } from "@expertmesh/runtime";

export interface HealthWorkerData {
  readonly address: string;
  readonly tls: ClientTlsFiles | undefined;
  readonly everyMs: number;
}

export interface HealthSamples {
  /** Latency of every check, ms. */
  readonly ms: number[];
  readonly failed: number;
  /**
   * How late this thread's own timer fired between checks, ms: the machine's wake-up delay, which every
   * check's latency includes too (a loaded machine, not the service, when it is of the checks' size).
   */
  readonly lateMs: number[];
}

const { address, tls, everyMs } = workerData as HealthWorkerData;
const client = new HealthClient(address, channelCredentialsFromFiles(tls), channelOptions());
/** One check: whether it answered SERVING. */
const check = () =>
  new Promise<boolean>((resolve) =>
    client.check({ service: "" }, new Metadata(), { deadline: Date.now() + 5_000 }, (e, r) =>
      resolve(!e && r?.status === ServingStatus.SERVING),
    ),
  );
let stopped = false;
parentPort!.once("message", () => (stopped = true));
// One check first, untimed: connecting is not the latency of a health answer.
await check();
parentPort!.postMessage("ready");
const ms: number[] = [];
let failed = 0;
const lateMs: number[] = [];
while (!stopped) {
  const t0 = performance.now();
  if (!(await check())) failed++;
  ms.push(performance.now() - t0);
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, everyMs));
  lateMs.push(performance.now() - t1 - everyMs);
}
client.close();
parentPort!.postMessage({ ms, failed, lateMs } satisfies HealthSamples);
