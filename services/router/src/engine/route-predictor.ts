// The router's view of the predictor service: for the tokens a step is about to run, the predicted
// probability of each expert of each layer ([L, E] per token). Best effort: a slow or failed prediction
// only costs prefetching, never correctness, so failures are ignored.
import { PredictorServiceClient } from "@expertmesh/proto";
import { channelCredentialsFromFiles, channelOptions, tensorToFloat32, unaryCall, type ClientTlsFiles } from "@expertmesh/runtime";

export class RoutePredictor {
  private readonly client: PredictorServiceClient;

  constructor(
    address: string,
    private readonly L: number,
    private readonly E: number,
    tls?: ClientTlsFiles,
    private readonly timeoutMs = 50,
  ) {
    this.client = new PredictorServiceClient(address, channelCredentialsFromFiles(tls), channelOptions());
    // Connect now: the first request's prediction must not pay the connection set-up within its deadline.
    this.client.getChannel().getConnectivityState(true);
  }

  /** Per token, probabilities [L * E]; undefined when the predictor did not answer in time. */
  async predict(tokenIds: number[], positions: number[]): Promise<Float32Array[] | undefined> {
    try {
      const res = await unaryCall(this.client, "predictRoutes", { tokenIds, positions }, { timeoutMs: this.timeoutMs });
      return res.probabilities.map((t, i) => tensorToFloat32(t, `probabilities[${i}]`, { shape: [this.L, this.E] }));
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.client.close();
  }
}
