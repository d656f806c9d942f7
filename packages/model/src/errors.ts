// Errors of the model runtime. Each names the file, tensor, key or limit involved, so that the CLI (and
// later the services) can report them without a stack trace.

/** A checkpoint file is missing, unreadable or malformed. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
  constructor(
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${detail}`, options);
  }
}

/** A tensor has the wrong shape or dtype, or is absent. */
export class TensorError extends Error {
  override name = "TensorError";
  constructor(
    readonly tensor: string,
    readonly file: string,
    detail: string,
  ) {
    super(`tensor ${tensor} in ${file}: ${detail}`);
  }
}

/** config.json names an unsupported architecture or holds an invalid value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly file: string,
    readonly key: string,
    detail: string,
  ) {
    super(`${file}: ${key}: ${detail}`);
  }
}

/** A request exceeds a limit of the model (context length, max tokens, batch size ...). */
export class LimitError extends Error {
  override name = "LimitError";
  constructor(
    readonly field: string,
    readonly limit: number,
    readonly value: number,
    detail?: string,
  ) {
    super(`${field} is ${value}, above the limit of ${limit}${detail ? ` (${detail})` : ""}`);
  }
}

/** An argument is malformed (not a limit violation). */
export class InvalidInputError extends Error {
  override name = "InvalidInputError";
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export type ModelError = CheckpointError | TensorError | ConfigError | LimitError | InvalidInputError;

export function isModelError(e: unknown): e is ModelError {
  return (
    e instanceof CheckpointError ||
    e instanceof TensorError ||
    e instanceof ConfigError ||
    e instanceof LimitError ||
    e instanceof InvalidInputError
  );
}
