// grpc.health.v1 Watch on each shard's ExpertShardService: the shard pool's view of which shards serve.
// A shard that reports NOT_SERVING (draining, a dead compute worker) or whose watch breaks is down until
// its watch reports SERVING again (re-watched with backoff from 100 ms to 2 s). Before the first answer a
// shard counts as serving, so that static placement works from the start.
import { type HealthClient, ServingStatus, type HealthCheckResponse } from "@expertmesh/proto";
import type { ClientReadableStream } from "@grpc/grpc-js";

const SERVICE = "expertmesh.v1.ExpertShardService";

export class ShardHealth {
  private readonly serving: boolean[];
  private readonly calls: (ClientReadableStream<HealthCheckResponse> | undefined)[];
  private readonly backoff: number[];
  private closed = false;

  constructor(
    private readonly clients: readonly HealthClient[],
    /** Called when a shard goes from serving to not serving, or back. */
    private readonly onChange: (shard: number, serving: boolean) => void,
  ) {
    this.serving = clients.map(() => true);
    this.calls = clients.map(() => undefined);
    this.backoff = clients.map(() => 100);
    clients.forEach((_, i) => {
      this.watch(i);
    });
  }

  isServing(shard: number): boolean {
    return this.serving[shard] ?? true;
  }

  close(): void {
    this.closed = true;
    for (const c of this.calls) c?.cancel();
  }

  private set(shard: number, serving: boolean): void {
    if (this.serving[shard] === serving) return;
    this.serving[shard] = serving;
    this.onChange(shard, serving);
  }

  private watch(shard: number): void {
    if (this.closed) return;
    const call = this.clients[shard]!.watch({ service: SERVICE });
    this.calls[shard] = call;
    call.on("data", (r: HealthCheckResponse) => {
      this.backoff[shard] = 100;
      this.set(shard, r.status === ServingStatus.SERVING);
    });
    const again = (): void => {
      if (this.calls[shard] !== call) return;
      this.calls[shard] = undefined;
      if (this.closed) return;
      this.set(shard, false);
      const wait = this.backoff[shard]!;
      this.backoff[shard] = Math.min(2_000, wait * 2);
      setTimeout(() => this.watch(shard), wait).unref();
    };
    call.on("error", again);
    call.on("end", again);
  }
}
