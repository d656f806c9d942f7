// NATS subjects, versioned like the proto package (expertmesh.v1). NATS carries hints and membership
// only, never tensors or anything that must not be lost.

const PREFIX = "expertmesh.v1";

/** Predicted demand for the experts of one MoE layer; shards prefetch on it. */
export function hintSubject(layer: number): string {
  return `${PREFIX}.hints.${token(layer)}`;
}

/** Every layer's hints (for a shard's subscription). */
export const HINTS_ALL = `${PREFIX}.hints.*`;

/** A shard's heartbeat: owned and resident experts, load. */
export function shardSubject(shardId: string): string {
  return `${PREFIX}.shards.${token(shardId)}`;
}

/** Every shard's heartbeat (for the router's subscription). */
export const SHARDS_ALL = `${PREFIX}.shards.*`;

/** A subject token: no dots, wildcards or whitespace, not empty. */
function token(value: string | number): string {
  const text = String(value);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new TypeError(`not a valid NATS subject token: ${JSON.stringify(text)}`);
  return text;
}
