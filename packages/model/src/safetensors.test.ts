import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CheckpointError, TensorError } from "./errors.js";
import { halfToFloat, SafetensorsFile } from "./safetensors.js";
import { writeSafetensors } from "./safetensors-write.js";

const dir = mkdtempSync(join(tmpdir(), "safetensors-test-"));

/** A safetensors file assembled byte by byte, independent of the writer under test. */
function rawFile(name: string, header: object, data: number[]): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, Buffer.from(data)]));
  return path;
}

test("F16 and BF16 are decoded bit-exactly (normal, subnormal, infinite values)", () => {
  // F16: 1.0 = 0x3c00, -2 = 0xc000, 65504 = 0x7bff, 2^-24 = 0x0001, +inf = 0x7c00 (little-endian bytes)
  const f16 = rawFile(
    "f16.safetensors",
    { a: { dtype: "F16", shape: [5], data_offsets: [0, 10] } },
    [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x7c],
  );
  assert.deepEqual(Array.from(SafetensorsFile.open(f16).readFloat("a").data), [1, -2, 65504, 2 ** -24, Infinity]);
  // BF16: 1.0 = 0x3f80, -0.5 = 0xbf00, 3.140625 = 0x4049
  const bf16 = rawFile(
    "bf16.safetensors",
    { b: { dtype: "BF16", shape: [3], data_offsets: [0, 6] } },
    [0x80, 0x3f, 0x00, 0xbf, 0x49, 0x40],
  );
  assert.deepEqual(Array.from(SafetensorsFile.open(bf16).readFloat("b").data), [1, -0.5, 3.140625]);
  assert.equal(halfToFloat(0x8000), -0);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test("F32 and I32 tensors round-trip through the writer with shapes and metadata", () => {
  const path = join(dir, "rt.safetensors");
  writeSafetensors(
    path,
    { w: { data: Float32Array.from([1.5, -2.25, 3, 4]), shape: [2, 2] }, i: { data: Int32Array.from([7, -8]), shape: [2] } },
    { format: "pt" },
  );
  const f = SafetensorsFile.open(path);
  assert.deepEqual(f.tensors.get("w")?.shape, [2, 2]);
  assert.deepEqual(Array.from(f.readFloat("w").data), [1.5, -2.25, 3, 4]);
  assert.deepEqual(Array.from(f.read("i").data as Int32Array), [7, -8]);
  assert.equal(f.metadata.format, "pt");
});

test("malformed files get an error naming the file or tensor", () => {
  assert.throws(
    () => SafetensorsFile.open(join(dir, "absent.safetensors")),
    (e) => e instanceof CheckpointError && /absent\.safetensors: cannot open/.test(e.message),
  );
  const short = join(dir, "short.safetensors");
  writeFileSync(short, Buffer.from([1, 2, 3]));
  assert.throws(() => SafetensorsFile.open(short), /too short/);
  const badJson = join(dir, "badjson.safetensors");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(3n);
  writeFileSync(badJson, Buffer.concat([len, Buffer.from("{x}")]));
  assert.throws(() => SafetensorsFile.open(badJson), /not valid JSON/);
  const truncated = rawFile("trunc.safetensors", { t: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, [0, 0, 0, 0]);
  assert.throws(
    () => SafetensorsFile.open(truncated),
    (e) => e instanceof TensorError && /tensor t .*truncated/.test(e.message),
  );
  const dtype = rawFile("dtype.safetensors", { t: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, [0]);
  assert.throws(() => SafetensorsFile.open(dtype), /tensor t .*unsupported dtype "F8_E4M3"/);
  const shape = rawFile("shape.safetensors", { t: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Array(8).fill(0));
  assert.throws(() => SafetensorsFile.open(shape), /shape \[3\] of F32 needs 12 bytes, data_offsets span 8/);
});
