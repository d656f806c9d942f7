// Writes safetensors files (F32 / I32 / U8): header entries sorted by name, header padded with spaces to a
// multiple of 8 bytes, as the reference implementation does.
import { writeFileSync } from "node:fs";

export interface TensorToWrite {
  data: Float32Array | Int32Array | Uint8Array;
  shape: number[];
}

export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const { data, shape } = tensors[name];
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = {
      dtype: data instanceof Float32Array ? "F32" : data instanceof Uint8Array ? "U8" : "I32",
      shape,
      data_offsets: [offset, offset + bytes.length],
    };
    blobs.push(bytes);
    offset += bytes.length;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...blobs]));
}
