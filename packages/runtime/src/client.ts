// Client-side helpers: channels with the same explicit limits as servers, and waiting for a
// service to report SERVING over grpc.health.v1 (grpc-js has no client-side health checking).

import { credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { HealthClient, ServingStatus, type HealthCheckResponse } from "@expertmesh/proto";
import { setTimeout as sleep } from "node:timers/promises";
import { DeadlineExceededError } from "./errors.js";
import { channelOptions, type ChannelLimits } from "./limits.js";

export interface WaitForServingOptions {
  /** Default: insecure (plaintext). */
  readonly credentials?: ChannelCredentials;
  readonly limits?: Partial<ChannelLimits>;
  /** Stops waiting (rejecting with the signal's reason). */
  readonly signal?: AbortSignal;
}

/**
 * Resolves once `service` at `address` reports SERVING to a health Check ("" = the whole server).
 * Retries while the server is unreachable, the service unknown, or NOT_SERVING, with backoff from
 * 50 ms to 1 s; rejects with DeadlineExceededError naming the last status when `deadline` passes.
 */
export async function waitForServing(
  address: string,
  service: string,
  deadline: Date | number,
  options: WaitForServingOptions = {},
): Promise<void> {
  const end = deadline instanceof Date ? deadline.getTime() : deadline;
  const client = new HealthClient(address, options.credentials ?? grpcCredentials.createInsecure(), channelOptions(options.limits));
  let last = "no answer yet";
  let backoffMs = 50;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const left = end - Date.now();
      if (left <= 0) break;
      try {
        const response = await check(client, service, Date.now() + Math.min(left, 1_000));
        if (response.status === ServingStatus.SERVING) return;
        last = ServingStatus[response.status] ?? String(response.status);
      } catch (error) {
        const e = error as ServiceError;
        // A check cut short by the overall deadline says less than the status seen before it.
        if (e.code !== status.DEADLINE_EXCEEDED || last === "no answer yet") last = `${status[e.code] ?? e.code}: ${e.details}`;
      }
      const wait = Math.min(backoffMs, end - Date.now());
      if (wait > 0) await sleep(wait, undefined, { signal: options.signal });
      backoffMs = Math.min(backoffMs * 2, 1_000);
    }
    throw new DeadlineExceededError(`${address}: service ${JSON.stringify(service)} not SERVING by the deadline (last: ${last})`);
  } finally {
    client.close();
  }
}

function check(client: HealthClient, service: string, deadline: number): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) => {
    client.check({ service }, new Metadata(), { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}
