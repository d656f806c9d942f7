// Reader for the safetensors format: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {dtype, shape, data_offsets}, then the raw little-endian data. F32, F16 and BF16 are
// decoded to Float32Array; integer dtypes are returned as they are.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { CheckpointError, TensorError } from "./errors.js";

export type SafetensorsDType = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8";

export interface TensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte offsets [begin, end) in the data section. */
  dataOffsets: [number, number];
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };
const MAX_HEADER = 100 * 1024 * 1024;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly dataStart: number,
  ) {}

  /** Parses and validates the header; data is read lazily by `read`. */
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new CheckpointError(path, `cannot open: ${(e as Error).message}`, { cause: e });
    }
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new CheckpointError(path, `file is ${size} bytes, too short for a safetensors header`);
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen > MAX_HEADER || 8 + headerLen > size) {
        throw new CheckpointError(path, `header length ${headerLen} does not fit in a file of ${size} bytes`);
      }
      const headerBuf = Buffer.alloc(headerLen);
      readSync(fd, headerBuf, 0, headerLen, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBuf.toString("utf8"));
      } catch (e) {
        throw new CheckpointError(path, `header is not valid JSON: ${(e as Error).message}`, { cause: e });
      }
      const dataLen = size - 8 - headerLen;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header)) {
        if (name === "__metadata__") {
          metadata = raw as Record<string, string>;
          continue;
        }
        tensors.set(name, validateInfo(path, name, raw, dataLen));
      }
      return new SafetensorsFile(path, tensors, metadata, 8 + headerLen);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads one tensor, decoding F32/F16/BF16 to Float32Array. */
  read(name: string): { info: TensorInfo; data: Float32Array | Int32Array | BigInt64Array | Uint8Array } {
    const info = this.tensors.get(name);
    if (!info) throw new TensorError(name, this.path, "not present");
    const [begin, end] = info.dataOffsets;
    const bytes = Buffer.alloc(end - begin);
    const fd = openSync(this.path, "r");
    try {
      readSync(fd, bytes, 0, bytes.length, this.dataStart + begin);
    } finally {
      closeSync(fd);
    }
    return { info, data: decode(info.dtype, bytes) };
  }

  /** Reads a floating-point tensor as Float32Array. */
  readFloat(name: string): { info: TensorInfo; data: Float32Array } {
    const { info, data } = this.read(name);
    if (!(data instanceof Float32Array)) {
      throw new TensorError(name, this.path, `dtype ${info.dtype} is not a floating-point type (F32, F16, BF16)`);
    }
    return { info, data };
  }
}

function validateInfo(path: string, name: string, raw: unknown, dataLen: number): TensorInfo {
  const r = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof r !== "object" || r === null) throw new TensorError(name, path, "header entry is not an object");
  if (typeof r.dtype !== "string" || !(r.dtype in BYTES)) {
    throw new TensorError(name, path, `unsupported dtype ${JSON.stringify(r.dtype)} (supported: ${Object.keys(BYTES).join(", ")})`);
  }
  const dtype = r.dtype as SafetensorsDType;
  if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TensorError(name, path, `invalid shape ${JSON.stringify(r.shape)}`);
  }
  const offs = r.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
    throw new TensorError(name, path, `invalid data_offsets ${JSON.stringify(offs)}`);
  }
  const shape = r.shape as number[];
  const expected = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
  if (offs[1] - offs[0] !== expected) {
    throw new TensorError(name, path, `shape [${shape}] of ${dtype} needs ${expected} bytes, data_offsets span ${offs[1] - offs[0]}`);
  }
  if (offs[1] > dataLen)
    throw new TensorError(name, path, `data_offsets end ${offs[1]} beyond the data section of ${dataLen} bytes (truncated file?)`);
  return { dtype, shape, dataOffsets: [offs[0], offs[1]] };
}

function decode(dtype: SafetensorsDType, b: Buffer): Float32Array | Int32Array | BigInt64Array | Uint8Array {
  const n = b.length / BYTES[dtype];
  switch (dtype) {
    case "F32": {
      // Little-endian hosts (x86, arm64) read the bytes as they are: one copy instead of a call per value
      // (a 734 M-parameter checkpoint loaded in minutes that way).
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(b);
      else for (let i = 0; i < n; i++) out[i] = b.readFloatLE(i * 4);
      return out;
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(b.readUInt16LE(i * 2));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(n);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = b.readUInt16LE(i * 2) << 16;
      return out;
    }
    case "I32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = b.readInt32LE(i * 4);
      return out;
    }
    case "I64": {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = b.readBigInt64LE(i * 8);
      return out;
    }
    case "U8":
      return new Uint8Array(b);
  }
}

/** IEEE 754 binary16 → number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
