// The router's side of DispatchExperts on the wire, hand-written for the hot path: a request encoded in
// one pass into one buffer of its exact size (the generated encoder grows its buffer by doubling, shifts
// every tensor's bytes when it writes their length, then copies the result), and a response decoded
// with each tensor's data a view into the received message (the generated decoder copies every tensor
// with Buffer.from). The bytes and the decoded values are those of the generated code (checked by
// dispatch-codec.test.ts); ExpertShardServiceDispatchClient is the generated client with these two.
import { makeGenericClientConstructor } from "@grpc/grpc-js";
import type { DispatchExpertsRequest, DispatchExpertsResponse, ExpertOutput } from "./gen/expertmesh/v1/expert_shard_service.js";
import { type ExpertShardServiceClient, ExpertShardServiceService } from "./gen/expertmesh/v1/expert_shard_service.js";
import type { Tensor } from "./gen/expertmesh/v1/tensor.js";
import { Status } from "./gen/google/rpc/status.js";

/** Bytes of a varint of a non-negative integer up to 2^53. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

function shapeBytes(shape: readonly number[]): number {
  let n = 0;
  for (const d of shape) n += varintSize(d);
  return n;
}

function tensorSize(t: Tensor): number {
  let n = 0;
  if (t.dtype !== 0) n += 1 + varintSize(t.dtype);
  if (t.shape.length !== 0) {
    const s = shapeBytes(t.shape);
    n += 1 + varintSize(s) + s;
  }
  if (t.data.length !== 0) n += 1 + varintSize(t.data.length) + t.data.length;
  return n;
}

function writeTensor(buf: Buffer, pos: number, t: Tensor): number {
  if (t.dtype !== 0) {
    buf[pos++] = 8;
    pos = writeVarint(buf, pos, t.dtype);
  }
  if (t.shape.length !== 0) {
    buf[pos++] = 18;
    pos = writeVarint(buf, pos, shapeBytes(t.shape));
    for (const d of t.shape) pos = writeVarint(buf, pos, d);
  }
  if (t.data.length !== 0) {
    buf[pos++] = 26;
    pos = writeVarint(buf, pos, t.data.length);
    buf.set(t.data, pos);
    pos += t.data.length;
  }
  return pos;
}

/** DispatchExpertsRequest as the generated encoder writes it, in one buffer of its exact size. */
export function encodeDispatchRequest(m: DispatchExpertsRequest): Buffer {
  const inputSizes = m.inputs.map((i) => {
    let n = 0;
    if (i.expertId !== 0) n += 1 + varintSize(i.expertId);
    if (i.hiddenStates !== undefined) {
      const t = tensorSize(i.hiddenStates);
      n += 1 + varintSize(t) + t;
    }
    return n;
  });
  const traceBytes = m.traceparent === "" ? 0 : Buffer.byteLength(m.traceparent, "utf8");
  let size = 0;
  if (m.callId !== 0) size += 1 + varintSize(m.callId);
  if (m.stepId !== 0) size += 1 + varintSize(m.stepId);
  if (m.layer !== 0) size += 1 + varintSize(m.layer);
  for (const n of inputSizes) size += 1 + varintSize(n) + n;
  if (m.timeoutMs !== 0) size += 1 + varintSize(m.timeoutMs);
  if (m.cancel) size += 2;
  if (traceBytes !== 0) size += 1 + varintSize(traceBytes) + traceBytes;
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (m.callId !== 0) {
    buf[pos++] = 8;
    pos = writeVarint(buf, pos, m.callId);
  }
  if (m.stepId !== 0) {
    buf[pos++] = 16;
    pos = writeVarint(buf, pos, m.stepId);
  }
  if (m.layer !== 0) {
    buf[pos++] = 24;
    pos = writeVarint(buf, pos, m.layer);
  }
  m.inputs.forEach((input, k) => {
    buf[pos++] = 34;
    pos = writeVarint(buf, pos, inputSizes[k]);
    if (input.expertId !== 0) {
      buf[pos++] = 8;
      pos = writeVarint(buf, pos, input.expertId);
    }
    if (input.hiddenStates !== undefined) {
      buf[pos++] = 18;
      pos = writeVarint(buf, pos, tensorSize(input.hiddenStates));
      pos = writeTensor(buf, pos, input.hiddenStates);
    }
  });
  if (m.timeoutMs !== 0) {
    buf[pos++] = 40;
    pos = writeVarint(buf, pos, m.timeoutMs);
  }
  if (m.cancel) {
    buf[pos++] = 48;
    buf[pos++] = 1;
  }
  if (traceBytes !== 0) {
    buf[pos++] = 58;
    pos = writeVarint(buf, pos, traceBytes);
    pos += buf.write(m.traceparent, pos, "utf8");
  }
  if (pos !== size) throw new Error(`encodeDispatchRequest: wrote ${pos} bytes of ${size}`);
  return buf;
}

/** Reads protobuf fields from a Buffer; a truncated or malformed message throws. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("DispatchExpertsResponse: truncated varint");
      const b = this.buf[this.pos++];
      v += (b & 127) * scale;
      if (b < 128) return v;
      scale *= 128;
    }
    throw new Error("DispatchExpertsResponse: varint longer than 10 bytes");
  }

  /** [start, end) of a length-delimited field's bytes. */
  span(): [number, number] {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw new Error("DispatchExpertsResponse: length-delimited field past the end");
    this.pos += n;
    return [start, start + n];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.span();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`DispatchExpertsResponse: unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new Error("DispatchExpertsResponse: field past the end");
  }
}

const EMPTY = Buffer.alloc(0);

function readTensor(buf: Buffer, start: number, end: number): Tensor {
  const t: Tensor = { dtype: 0, shape: [], data: EMPTY };
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 8) t.dtype = r.varint();
    else if (tag === 16) t.shape.push(r.varint() >>> 0);
    else if (tag === 18) {
      const [s, e] = r.span();
      const packed = new Reader(buf, s, e);
      while (packed.pos < e) t.shape.push(packed.varint() >>> 0);
    } else if (tag === 26) {
      const [s, e] = r.span();
      t.data = buf.subarray(s, e);
    } else r.skip(tag & 7);
  }
  return t;
}

function readOutput(buf: Buffer, start: number, end: number): ExpertOutput {
  const o: ExpertOutput = { expertId: 0, output: undefined, wasResident: false };
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 8) o.expertId = r.varint() >>> 0;
    else if (tag === 18) o.output = readTensor(buf, ...r.span());
    else if (tag === 24) o.wasResident = r.varint() !== 0;
    else r.skip(tag & 7);
  }
  return o;
}

/** DispatchExpertsResponse as the generated decoder reads it, with tensor data as views into `buf`. */
export function decodeDispatchResponse(buf: Buffer): DispatchExpertsResponse {
  const m: DispatchExpertsResponse = { callId: 0, layer: 0, outputs: [], error: undefined };
  const r = new Reader(buf, 0, buf.length);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 8) m.callId = r.varint();
    else if (tag === 16) m.layer = r.varint() >>> 0;
    else if (tag === 26) m.outputs.push(readOutput(buf, ...r.span()));
    else if (tag === 34) {
      const [s, e] = r.span();
      m.error = Status.decode(buf.subarray(s, e));
    } else r.skip(tag & 7);
  }
  return m;
}

/**
 * ExpertShardServiceClient whose DispatchExperts stream uses the codec above (every other method as
 * generated); the same service path and messages, so any shard serves it.
 */
export const ExpertShardServiceDispatchClient = makeGenericClientConstructor(
  {
    ...ExpertShardServiceService,
    dispatchExperts: {
      ...ExpertShardServiceService.dispatchExperts,
      requestSerialize: (m: DispatchExpertsRequest) => encodeDispatchRequest(m),
      responseDeserialize: (b: Buffer) => decodeDispatchResponse(b),
    },
  },
  "expertmesh.v1.ExpertShardService",
) as unknown as typeof ExpertShardServiceClient;
