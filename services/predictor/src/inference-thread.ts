// The inference worker thread (started by inference-worker.ts): owns one onnxruntime session of a
// predictor model and runs one request at a time, off the service's event loop (session.run blocks the
// thread that calls it).
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer.
import { parentPort, workerData } from "node:worker_threads";
import { createSession, int64Tensor, PREDICTOR_INPUTS, PREDICTOR_OUTPUT } from "@expertmesh/model";
import type { ThreadData, ThreadMessage, ThreadReply, ThreadRequest } from "./inference-worker.js";

const port = parentPort!;
const data = workerData as ThreadData;
const post = (reply: ThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

let session: Awaited<ReturnType<typeof createSession>>;
try {
  session = await createSession(data.model, data.session);
  const missing = [
    ...Object.values(PREDICTOR_INPUTS)
      .filter((name) => !session.inputNames.includes(name))
      .map((name) => `input ${name}`),
    ...(session.outputNames.includes(PREDICTOR_OUTPUT) ? [] : [`output ${PREDICTOR_OUTPUT}`]),
  ];
  if (missing.length > 0) {
    throw new Error(
      `not a predictor model: no ${missing.join(", ")} (has inputs ${session.inputNames.join(", ")}; outputs ${session.outputNames.join(", ")})`,
    );
  }
  post({ type: "ready" });
} catch (e) {
  post({ type: "fatal", message: (e as Error).message ?? String(e) });
  process.exit(1);
}

// Messages are handled one at a time, in order, so that "close" never releases the session mid-run.
let chain = Promise.resolve();
port.on("message", (message: ThreadMessage) => {
  chain = chain.then(() => (message.type === "run" ? run(message) : close()));
});

async function run(request: ThreadRequest): Promise<void> {
  const T = request.tokenIds.length;
  const { numLayers: L, numExperts: E } = data;
  try {
    const out = await session.run({
      [PREDICTOR_INPUTS.tokenIds]: int64Tensor(request.tokenIds, [T]),
      [PREDICTOR_INPUTS.positions]: int64Tensor(request.positions, [T]),
    });
    const result = out[PREDICTOR_OUTPUT];
    const dims = result.dims;
    if (result.type !== "float32" || dims.length !== 3 || dims[0] !== T || dims[1] !== L || dims[2] !== E) {
      throw new Error(`predictor output is ${result.type} [${dims.join(", ")}], expected float32 [${T}, ${L}, ${E}]`);
    }
    const probabilities = (result.data as Float32Array).slice(); // its own buffer, to transfer: [T, L, E]
    post({ type: "result", id: request.id, probabilities }, [probabilities.buffer as ArrayBuffer]);
  } catch (e) {
    post({ type: "error", id: request.id, message: (e as Error).message ?? String(e) });
  }
}

async function close(): Promise<void> {
  await session.release();
  process.exit(0); // in a worker thread: ends this thread only
}
