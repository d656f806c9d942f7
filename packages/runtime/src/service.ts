// How a service is handed to createServer: a ts-proto service definition (e.g. ExpertShardServiceService)
// and handlers in async style, typed from the definition. `service()` checks the handlers' types.

import type { CallContext } from "./call-context.js";

/** One method of a ts-proto (grpc-js) service definition. */
// biome-ignore lint/suspicious/noExplicitAny: a definition's methods have different message types; any is the default they all satisfy
export interface MethodDefinitionLike<Req = any, Res = any> {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly requestDeserialize: (value: Buffer) => Req;
  readonly responseSerialize: (value: Res) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}

/** A ts-proto service definition: method name → method definition. */
export type ServiceDefinitionLike = { readonly [method: string]: MethodDefinitionLike };

export type RequestOf<M> = M extends { requestDeserialize: (value: Buffer) => infer Req } ? Req : never;
export type ResponseOf<M> = M extends { responseSerialize: (value: infer Res) => Buffer } ? Res : never;

/** A unary handler: returns (or resolves to) the response, or throws one of the error classes. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res> | Res;

/** A server-streaming handler: yields the responses (an async generator), or throws. */
export type ServerStreamingHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;

/** A bidirectional stream as its handler sees it. */
export interface BidiStreamCall<Req, Res> {
  /** The client's messages, until it half-closes (or the call is cancelled: the iteration ends). */
  readonly requests: AsyncIterable<Req>;
  /** Writes a message; resolves once the transport has room for more (backpressure). */
  send(response: Res): Promise<void>;
  /**
   * Aborted when the server starts draining: a long-lived stream takes no new work, finishes what runs,
   * and returns (the client reconnects elsewhere).
   */
  readonly draining: AbortSignal;
}

/**
 * A bidirectional-streaming handler: reads `call.requests`, sends responses, and resolves when the
 * stream is done (the status is OK), or throws (the status is the error's).
 */
export type BidiStreamingHandler<Req, Res> = (call: BidiStreamCall<Req, Res>, ctx: CallContext) => Promise<void>;

/** The handler type of one method. Client-streaming methods are not supported (yet). */
export type HandlerOf<M> = M extends { requestStream: false; responseStream: false }
  ? UnaryHandler<RequestOf<M>, ResponseOf<M>>
  : M extends { requestStream: false; responseStream: true }
    ? ServerStreamingHandler<RequestOf<M>, ResponseOf<M>>
    : M extends { requestStream: true; responseStream: true }
      ? BidiStreamingHandler<RequestOf<M>, ResponseOf<M>>
      : never;

/** Handlers for every method of a service definition. */
export type ServiceImplementation<D extends ServiceDefinitionLike> = { readonly [K in keyof D]: HandlerOf<D[K]> };

/**
 * A service ready for createServer. Build it with `service()`, which type-checks the handlers; a
 * plain `{ definition, implementation }` is accepted too (unchecked).
 */
export interface ServiceRegistration {
  /** Fully qualified service name, e.g. "expertmesh.v1.ExpertShardService" (its health name); default: read from the definition. */
  readonly name?: string;
  readonly definition: ServiceDefinitionLike;
  // biome-ignore lint/suspicious/noExplicitAny: handlers of every method, each with its own request type
  readonly implementation: { readonly [method: string]: (...args: any[]) => unknown };
}

/** Pairs a definition with its handlers, type-checked against each other. */
export function service<D extends ServiceDefinitionLike>(definition: D, implementation: ServiceImplementation<D>): ServiceRegistration {
  return { name: serviceName(definition), definition, implementation };
}

/** The fully qualified name of a service, read from its methods' paths ("/pkg.Service/Method"). */
export function serviceName(definition: ServiceDefinitionLike): string {
  const names = new Set(Object.values(definition).map((method) => method.path.split("/")[1] ?? ""));
  const [name] = names;
  if (names.size !== 1 || name === undefined || name === "") {
    throw new TypeError(`not a service definition: method paths name ${JSON.stringify([...names])}`);
  }
  return name;
}
