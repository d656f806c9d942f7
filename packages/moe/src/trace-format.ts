// Routing traces: for each token of a text, its id and position and, for every MoE layer, the k experts
// the gate chose and their weights. One compact binary file, read back by every tool:
//
//   bytes 0..7   "EMTRACE1"
//   uint32 LE    header length H
//   H bytes      JSON header {numLayers, numExperts, topK, tokens, sequences: [{start, length}], model, source}
//   int32  [N]         token ids                     (N = tokens, sequences laid end to end)
//   int32  [N]         positions within the sequence
//   uint16 [N, L, k]   chosen experts, highest weight first
//   float32 [N, L, k]  their renormalised gate weights
// Sections are little-endian and each starts at a multiple of 4 bytes (the header is space-padded).
import { readFileSync, writeFileSync } from "node:fs";

const MAGIC = "EMTRACE1";

export interface TraceHeader {
  numLayers: number;
  numExperts: number;
  topK: number;
  tokens: number;
  sequences: { start: number; length: number }[];
  model?: string;
  source?: string;
}

export interface RoutingTrace extends TraceHeader {
  tokenIds: Int32Array; // [N]
  positions: Int32Array; // [N]
  experts: Uint16Array; // [N, L, k]
  weights: Float32Array; // [N, L, k]
}

export function encodeTrace(t: RoutingTrace): Buffer {
  const { numLayers: L, topK: k, tokens: N } = t;
  if (t.tokenIds.length !== N || t.positions.length !== N || t.experts.length !== N * L * k || t.weights.length !== N * L * k) {
    throw new RangeError(`trace: array lengths do not match N=${N}, L=${L}, k=${k}`);
  }
  const header: TraceHeader = {
    numLayers: t.numLayers,
    numExperts: t.numExperts,
    topK: t.topK,
    tokens: N,
    sequences: t.sequences,
    model: t.model,
    source: t.source,
  };
  let json = JSON.stringify(header);
  json += " ".repeat((4 - ((MAGIC.length + 4 + Buffer.byteLength(json)) % 4)) % 4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(Buffer.byteLength(json));
  const expertBytes = Buffer.from(t.experts.buffer, t.experts.byteOffset, t.experts.byteLength);
  const pad = Buffer.alloc((4 - (expertBytes.length % 4)) % 4);
  const view = (a: Int32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return Buffer.concat([
    Buffer.from(MAGIC),
    len,
    Buffer.from(json),
    view(t.tokenIds),
    view(t.positions),
    expertBytes,
    pad,
    view(t.weights),
  ]);
}

export function decodeTrace(buf: Buffer, name = "trace"): RoutingTrace {
  if (buf.length < 12 || buf.subarray(0, 8).toString("latin1") !== MAGIC)
    throw new Error(`${name}: not a routing trace (no ${MAGIC} magic)`);
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString("utf8")) as TraceHeader;
  const { numLayers: L, topK: k, tokens: N } = header;
  let o = 12 + hlen;
  const take = (bytes: number) => {
    if (o + bytes > buf.length) throw new Error(`${name}: truncated (needs ${o + bytes} bytes, has ${buf.length})`);
    const copy = new Uint8Array(bytes);
    copy.set(buf.subarray(o, o + bytes));
    o += bytes + ((4 - (bytes % 4)) % 4);
    return copy.buffer;
  };
  const tokenIds = new Int32Array(take(N * 4));
  const positions = new Int32Array(take(N * 4));
  const experts = new Uint16Array(take(N * L * k * 2));
  const weights = new Float32Array(take(N * L * k * 4));
  return { ...header, tokenIds, positions, experts, weights };
}

export function writeTrace(path: string, t: RoutingTrace): void {
  writeFileSync(path, encodeTrace(t));
}

export function readTrace(path: string): RoutingTrace {
  return decodeTrace(readFileSync(path), path);
}

/** Experts of token `t` at layer `l` (a view of k entries). */
export function tokenExperts(t: RoutingTrace, token: number, layer: number): Uint16Array {
  const base = (token * t.numLayers + layer) * t.topK;
  return t.experts.subarray(base, base + t.topK);
}
