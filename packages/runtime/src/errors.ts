// One class per failure. Each carries the gRPC status code it maps to, a `reason` for
// google.rpc.ErrorInfo (UPPER_SNAKE_CASE, stable: clients branch on it) and typed fields that travel
// as ErrorInfo metadata. error-status.ts turns them into a gRPC status and back.

import { status } from "@grpc/grpc-js";

/** Domain of every ErrorInfo that ExpertMesh sends. */
export const ERROR_DOMAIN = "expertmesh.dev";

const REASON = /^[A-Z][A-Z0-9_]*[A-Z0-9]$/;

/** Whether `reason` is a valid ErrorInfo reason (UPPER_SNAKE_CASE). */
export function isErrorReason(reason: string): boolean {
  return REASON.test(reason);
}

/** A scalar that an error names (a limit, a value given): sent as its decimal string. */
export type Scalar = string | number | bigint | boolean;

export interface ExpertMeshErrorOptions {
  /** ErrorInfo reason, UPPER_SNAKE_CASE; each class has a default. */
  reason?: string;
  /** Extra ErrorInfo metadata (keys lowerCamelCase); the typed fields win on a clash. */
  metadata?: Readonly<Record<string, string>>;
  cause?: unknown;
}

/** Base of the error classes below; throw a subclass, not this. */
export abstract class ExpertMeshError extends Error {
  /** gRPC status code this error maps to. */
  abstract readonly code: status;
  /** ErrorInfo reason (UPPER_SNAKE_CASE). */
  readonly reason: string;
  /** Extra ErrorInfo metadata given at construction. */
  readonly extraMetadata: Readonly<Record<string, string>>;

  protected constructor(message: string, defaultReason: string, options: ExpertMeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const reason = options.reason ?? defaultReason;
    if (!REASON.test(reason)) throw new TypeError(`error reason must be UPPER_SNAKE_CASE, got ${JSON.stringify(reason)}`);
    this.reason = reason;
    this.extraMetadata = Object.freeze({ ...options.metadata });
  }

  /** ErrorInfo metadata: the extra metadata plus this class's typed fields. */
  errorInfoMetadata(): Record<string, string> {
    return { ...this.extraMetadata, ...definedStrings(this.fields()) };
  }

  /** Typed fields sent as ErrorInfo metadata; overridden by classes that have some. */
  protected fields(): Record<string, string | undefined> {
    return {};
  }
}

/** A request field is malformed or out of range: INVALID_ARGUMENT, naming the field, limit and value. */
export class InvalidArgumentError extends ExpertMeshError {
  override readonly name = "InvalidArgumentError";
  readonly code = status.INVALID_ARGUMENT;
  readonly limit: string | undefined;
  readonly value: string | undefined;

  constructor(
    readonly field: string,
    message: string,
    options: ExpertMeshErrorOptions & { limit?: Scalar; value?: Scalar } = {},
  ) {
    super(field === "" ? message : `${field}: ${message}`, "INVALID_ARGUMENT", options);
    this.limit = scalar(options.limit);
    this.value = scalar(options.value);
  }

  protected override fields() {
    return { field: this.field, limit: this.limit, value: this.value };
  }
}

/** Overload or a quota: RESOURCE_EXHAUSTED at once (never an unbounded queue). */
export class ResourceExhaustedError extends ExpertMeshError {
  override readonly name = "ResourceExhaustedError";
  readonly code = status.RESOURCE_EXHAUSTED;
  readonly limit: string | undefined;
  readonly value: string | undefined;
  /** Suggested wait before retrying; sent as google.rpc.RetryInfo. */
  readonly retryAfterMs: number | undefined;

  constructor(
    /** What ran out, e.g. "queue", "device_memory". */
    readonly resource: string,
    message: string,
    options: ExpertMeshErrorOptions & { limit?: Scalar; value?: Scalar; retryAfterMs?: number } = {},
  ) {
    super(message, "RESOURCE_EXHAUSTED", options);
    this.limit = scalar(options.limit);
    this.value = scalar(options.value);
    this.retryAfterMs = options.retryAfterMs;
  }

  protected override fields() {
    return { resource: this.resource, limit: this.limit, value: this.value };
  }
}

/** The service cannot serve now (draining, a dependency down); the call is safe to retry elsewhere. */
export class UnavailableError extends ExpertMeshError {
  override readonly name = "UnavailableError";
  readonly code = status.UNAVAILABLE;
  /** Suggested wait before retrying; sent as google.rpc.RetryInfo. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: ExpertMeshErrorOptions & { retryAfterMs?: number } = {}) {
    super(message, "UNAVAILABLE", options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The call's deadline passed before the work was done. */
export class DeadlineExceededError extends ExpertMeshError {
  override readonly name = "DeadlineExceededError";
  readonly code = status.DEADLINE_EXCEEDED;

  constructor(message = "deadline exceeded", options: ExpertMeshErrorOptions = {}) {
    super(message, "DEADLINE_EXCEEDED", options);
  }
}

/** A named thing does not exist here (a model, an expert this shard does not own, a health service). */
export class NotFoundError extends ExpertMeshError {
  override readonly name = "NotFoundError";
  readonly code = status.NOT_FOUND;

  constructor(
    /** Kind of thing, e.g. "model", "expert". */
    readonly resourceType: string,
    /** Its name or address, e.g. "mixtral-8x7b", "3/5". */
    readonly resourceName: string,
    options: ExpertMeshErrorOptions & { message?: string } = {},
  ) {
    super(options.message ?? `${resourceType} ${JSON.stringify(resourceName)} not found`, "NOT_FOUND", options);
  }

  protected override fields() {
    return { resourceType: this.resourceType, resourceName: this.resourceName };
  }
}

/** The call was cancelled (by the client, or by the server while shutting down). */
export class CancelledError extends ExpertMeshError {
  override readonly name = "CancelledError";
  readonly code = status.CANCELLED;

  constructor(message = "cancelled", options: ExpertMeshErrorOptions = {}) {
    super(message, "CANCELLED", options);
  }
}

/** A bug or a broken invariant on the server. Unknown thrown values are reported as this. */
export class InternalError extends ExpertMeshError {
  override readonly name = "InternalError";
  readonly code = status.INTERNAL;

  constructor(message = "internal error", options: ExpertMeshErrorOptions = {}) {
    super(message, "INTERNAL", options);
  }
}

/**
 * A status that none of the classes above stands for (UNIMPLEMENTED, PERMISSION_DENIED,
 * UNAUTHENTICATED, FAILED_PRECONDITION, ...): what errorFromStatus returns for those codes.
 */
export class StatusError extends ExpertMeshError {
  override readonly name = "StatusError";

  constructor(
    readonly code: status,
    message: string,
    options: ExpertMeshErrorOptions = {},
  ) {
    super(message, status[code] ?? "UNKNOWN", options);
  }
}

function scalar(value: Scalar | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

function definedStrings(record: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
