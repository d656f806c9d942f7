// The one place where request deserializers are built. grpc-js answers a body its deserializer throws
// on with INTERNAL ("Error deserializing request"), which says the server failed when the client sent
// bad bytes. Here every service definition's requestDeserialize is wrapped: bytes that do not decode
// become an UndecodableRequest (the message type named, the decoder's error kept), which the handler
// wrapper (handlers.ts) answers with INVALID_ARGUMENT, reason MALFORMED_REQUEST, before any handler runs.
import { InvalidArgumentError } from "./errors.js";
import type { MethodDefinitionLike, ServiceDefinitionLike } from "./service.js";

/** A request body that did not decode as `messageType`. */
export class UndecodableRequest {
  constructor(
    readonly messageType: string,
    readonly bytes: number,
    readonly cause: unknown,
  ) {}

  toError(method: string): InvalidArgumentError {
    const why = this.cause instanceof Error ? this.cause.message : String(this.cause);
    return new InvalidArgumentError("", `${method}: the request body (${this.bytes} bytes) is not a valid ${this.messageType}: ${why}`, {
      reason: "MALFORMED_REQUEST",
      metadata: { messageType: this.messageType },
      cause: this.cause,
    });
  }
}

/** `definition` with every request deserializer turning undecodable bytes into an UndecodableRequest. */
export function decodingDefinition<D extends ServiceDefinitionLike>(definition: D): D {
  const out: Record<string, MethodDefinitionLike> = {};
  for (const [key, method] of Object.entries(definition)) {
    const messageType = requestTypeName(method);
    const decode = method.requestDeserialize;
    out[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return new UndecodableRequest(messageType, bytes.length, error);
        }
      },
    };
  }
  return out as D;
}

/**
 * The fully qualified request message of a method: ts-proto's deserializer reads `XxxRequest.decode(value)`,
 * in the package of the service's path; else the convention `<Method>Request`.
 */
export function requestTypeName(method: MethodDefinitionLike): string {
  const [, service = "", rpc = ""] = method.path.split("/");
  const pkg = service.includes(".") ? service.slice(0, service.lastIndexOf(".") + 1) : "";
  const fromSource = /([A-Za-z_][A-Za-z0-9_]*)\.decode\(/.exec(method.requestDeserialize.toString())?.[1];
  return `${pkg}${fromSource ?? `${rpc}Request`}`;
}
