// grpc.health.v1 for every server: a registry of serving statuses (one per service, "" for the
// server as a whole) and the Health service (Check, List, Watch) that reads it.

import { HealthService, ServingStatus, type HealthCheckResponse } from "@expertmesh/proto";
import type { CallContext } from "./call-context.js";
import { NotFoundError, ResourceExhaustedError } from "./errors.js";
import { service, type ServiceRegistration } from "./service.js";

/** Health name of the server as a whole. */
export const OVERALL = "";
const MAX_LIST = 100; // set by the health.proto contract

export class HealthRegistry {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Set<(service: string | undefined) => void>();
  #closed = false;

  /** Sets a service's status and tells its watchers. */
  set(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const notify of this.#watchers) notify(service);
  }

  /** Sets every known service, and the overall status, to `status` (a drain sets NOT_SERVING). */
  setAll(status: ServingStatus): void {
    for (const name of [OVERALL, ...this.#statuses.keys()]) this.set(name, status);
  }

  /** A service's status, or undefined when it is not known. */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Every known service and its status. */
  list(): Map<string, ServingStatus> {
    return new Map(this.#statuses);
  }

  /** Ends every watch (after it has sent the latest status); a stopping server calls it. */
  close(): void {
    this.#closed = true;
    for (const notify of this.#watchers) notify(undefined);
  }

  /**
   * Yields a service's status now (SERVICE_UNKNOWN when not known) and again after each change,
   * until `signal` aborts or the registry closes. Intermediate statuses may be skipped; the latest
   * one is always sent before the end.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    let wake: (() => void) | undefined;
    let changed = true;
    const onChange = (name: string | undefined): void => {
      if (name === service) changed = true;
      if (name === service || name === undefined) wake?.();
    };
    const onAbort = (): void => wake?.();
    this.#watchers.add(onChange);
    signal.addEventListener("abort", onAbort);
    try {
      let last: ServingStatus | undefined;
      while (!signal.aborted) {
        if (changed) {
          changed = false;
          const current = this.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (current !== last) {
            last = current;
            yield current;
            continue;
          }
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#watchers.delete(onChange);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** The grpc.health.v1.Health service over `registry`. */
export function healthService(registry: HealthRegistry): ServiceRegistration {
  return service(HealthService, {
    check: (request) => {
      const status = registry.get(request.service);
      if (status === undefined) throw new NotFoundError("service", request.service, { reason: "SERVICE_UNKNOWN" });
      return { status };
    },
    list: () => {
      const statuses = registry.list();
      if (statuses.size > MAX_LIST) {
        throw new ResourceExhaustedError("health_services", `more than ${MAX_LIST} services`, {
          limit: MAX_LIST,
          value: statuses.size,
        });
      }
      const out: Record<string, HealthCheckResponse> = {};
      for (const [name, status] of statuses) out[name] = { status };
      return { statuses: out };
    },
    watch: async function* (request, ctx: CallContext) {
      for await (const status of registry.watch(request.service, ctx.signal)) yield { status };
    },
  });
}
