// The hint flooder's thread (reliability-suite.ts, the hint flood row): forged PrefetchHints (random
// experts, flagged as corrections so that each asks for a load now) published on NATS, 25 every 5 ms,
// until the parent posts "stop"; then it posts how many it sent and exits. A thread of its own, as an
// attacker is a process of its own: the encoding and publishing are not done on the event loop of the
// client whose latency the row measures.
import { parentPort, workerData } from "node:worker_threads";
import { PrefetchHint } from "@expertmesh/proto";
import { createNatsLink, hintSubject, silentLogger } from "@expertmesh/runtime";

export interface FloodWorkerData {
  readonly natsUrl: string;
}

const { natsUrl } = workerData as FloodWorkerData;
const link = createNatsLink({ servers: [natsUrl], name: "flooder", logger: silentLogger });
await link.ready();
let step = 0;
const flood = setInterval(() => {
  for (let i = 0; i < 25; i++) {
    const layer = step % 4;
    const expertIds = Array.from({ length: 8 }, (_, j) => (step * 7 + j * 3) % 16);
    link.publish(
      hintSubject(layer),
      PrefetchHint.encode({ layer, expertIds, scores: expertIds.map(() => 1), step: ++step, correction: true }).finish(),
    );
  }
}, 5);
parentPort!.postMessage("ready");
parentPort!.once("message", async () => {
  clearInterval(flood);
  await link.close();
  parentPort!.postMessage(step);
});
