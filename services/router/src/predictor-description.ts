// Asks the predictor service what it serves (once, at start-up): the description reported by ModelInfo,
// and a check that it predicts the served model's shape. The predictor is optional: when it cannot be
// reached the router serves without hints and says so.
import type { MoeConfig } from "@expertmesh/model";
import { PredictorServiceClient } from "@expertmesh/proto";
import { channelCredentialsFromFiles, channelOptions, unaryCall, type ClientTlsFiles } from "@expertmesh/runtime";

export async function describeRemotePredictor(
  address: string | undefined,
  model: MoeConfig,
  tls?: ClientTlsFiles,
  timeoutMs = 10_000,
): Promise<string> {
  if (!address) return "none (no predictor configured: no prefetch hints)";
  const client = new PredictorServiceClient(address, channelCredentialsFromFiles(tls), channelOptions());
  try {
    const d = await unaryCall(client, "describePredictor", {}, { timeoutMs });
    if (d.numLayers !== model.numLayers || d.numExperts !== model.numExperts) {
      throw new Error(
        `predictor at ${address} predicts ${d.numLayers} x ${d.numExperts} routes, the model has ${model.numLayers} layers x ${model.numExperts} experts`,
      );
    }
    return `${d.description} at ${address}`;
  } catch (e) {
    if ((e as Error).message.startsWith("predictor at")) throw e;
    return `unreachable at start-up (${address}): ${(e as Error).message}`;
  } finally {
    client.close();
  }
}
