// The error-mapping layer, both ways: an error thrown by a handler becomes a gRPC status whose
// grpc-status-details-bin trailer holds a google.rpc.Status with a google.rpc.ErrorInfo (and a
// RetryInfo when the error suggests a wait); errorFromStatus reads that back into the same class.

import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { type Any, type Duration, ErrorInfo, RetryInfo, RpcStatus, TYPE_URL_PREFIX } from "@expertmesh/proto";
import {
  CancelledError,
  DeadlineExceededError,
  ERROR_DOMAIN,
  ExpertMeshError,
  InternalError,
  InvalidArgumentError,
  isErrorReason,
  NotFoundError,
  ResourceExhaustedError,
  StatusError,
  UnavailableError,
} from "./errors.js";

/** Binary trailer that carries a serialized google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
const ERROR_INFO_URL = `${TYPE_URL_PREFIX}google.rpc.ErrorInfo`;
const RETRY_INFO_URL = `${TYPE_URL_PREFIX}google.rpc.RetryInfo`;

/** What grpc-js accepts from a handler as an error and sends as the status (code, details, trailers). */
export type ServerErrorStatus = Required<Pick<StatusObject, "code" | "details" | "metadata">>;

/** The shape of a failed call on the client side (grpc-js's ServiceError). */
export interface StatusLike {
  code: number;
  details: string;
  metadata?: Metadata | null;
}

/**
 * Turns anything a handler threw into the status to send. ExpertMeshErrors keep their code, message
 * and fields; anything else becomes INTERNAL with a generic message (its text is not sent; log it).
 */
export function toStatus(error: unknown): ServerErrorStatus {
  const mapped = error instanceof ExpertMeshError ? error : new InternalError("internal error", { cause: error });
  const details: Any[] = [
    {
      typeUrl: ERROR_INFO_URL,
      value: asBuffer(ErrorInfo.encode({ reason: mapped.reason, domain: ERROR_DOMAIN, metadata: mapped.errorInfoMetadata() }).finish()),
    },
  ];
  const retryAfterMs = "retryAfterMs" in mapped ? (mapped.retryAfterMs as number | undefined) : undefined;
  if (retryAfterMs !== undefined) {
    details.push({ typeUrl: RETRY_INFO_URL, value: asBuffer(RetryInfo.encode({ retryDelay: msToDuration(retryAfterMs) }).finish()) });
  }
  const metadata = new Metadata();
  const rpcStatus = RpcStatus.encode({ code: mapped.code, message: mapped.message, details }).finish();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(rpcStatus));
  return { code: mapped.code, details: mapped.message, metadata };
}

/**
 * The google.rpc.Status of an error, for a failure carried inside a message (one call of a stream
 * failed; the stream goes on): what toStatus would send as the status and its details trailer.
 */
export function toRpcStatus(error: unknown): RpcStatus {
  const status = toStatus(error);
  return RpcStatus.decode(status.metadata.get(STATUS_DETAILS_KEY)[0] as Buffer);
}

/** The error class of a google.rpc.Status carried inside a message (the reverse of toRpcStatus). */
export function errorFromRpcStatus(rpcStatus: RpcStatus): ExpertMeshError {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(RpcStatus.encode(rpcStatus).finish()));
  return errorFromStatus({ code: rpcStatus.code, details: rpcStatus.message, metadata });
}

/** The google.rpc details found in a status's trailers (absent when the peer sent none). */
export interface StatusDetails {
  errorInfo?: ErrorInfo;
  retryAfterMs?: number;
}

/** Decodes the grpc-status-details-bin trailer; a malformed trailer yields no details, not a throw. */
export function readStatusDetails(metadata: Metadata | null | undefined): StatusDetails {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === "string") return {};
  const out: StatusDetails = {};
  try {
    for (const any of RpcStatus.decode(raw).details) {
      if (any.typeUrl === ERROR_INFO_URL) out.errorInfo = ErrorInfo.decode(any.value);
      else if (any.typeUrl === RETRY_INFO_URL) {
        const delay = RetryInfo.decode(any.value).retryDelay;
        if (delay !== undefined) out.retryAfterMs = delay.seconds * 1000 + delay.nanos / 1e6;
      }
    }
  } catch {
    return {};
  }
  return out;
}

/**
 * The reverse mapping, for clients: a failed call's status back into the error class that the server
 * threw, with reason and typed fields restored from ErrorInfo. The original status is the `cause`.
 */
export function errorFromStatus(serviceError: StatusLike): ExpertMeshError {
  const { errorInfo, retryAfterMs } = readStatusDetails(serviceError.metadata);
  const md = { ...errorInfo?.metadata };
  const reason = errorInfo !== undefined && isErrorReason(errorInfo.reason) ? errorInfo.reason : undefined;
  const message = serviceError.details;
  const base = { reason, cause: serviceError, metadata: md };
  const take = (key: string): string | undefined => {
    const value = md[key];
    delete md[key];
    return value;
  };
  switch (serviceError.code) {
    case status.INVALID_ARGUMENT: {
      const field = take("field") ?? "";
      const prefix = `${field}: `;
      const text = field !== "" && message.startsWith(prefix) ? message.slice(prefix.length) : message;
      return new InvalidArgumentError(field, text, { ...base, limit: take("limit"), value: take("value") });
    }
    case status.RESOURCE_EXHAUSTED:
      return new ResourceExhaustedError(take("resource") ?? "", message, {
        ...base,
        limit: take("limit"),
        value: take("value"),
        retryAfterMs,
      });
    case status.UNAVAILABLE:
      return new UnavailableError(message, { ...base, retryAfterMs });
    case status.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(message, base);
    case status.NOT_FOUND:
      return new NotFoundError(take("resourceType") ?? "", take("resourceName") ?? "", { ...base, message });
    case status.CANCELLED:
      return new CancelledError(message, base);
    case status.INTERNAL:
      return new InternalError(message, base);
    default:
      return new StatusError(serviceError.code, message, base);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function msToDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}
