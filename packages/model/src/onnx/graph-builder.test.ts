// GraphBuilder's model metadata (ModelProto.metadata_props, field 14), read back with an independent
// protobuf walk, and a model carrying metadata still loads and runs in onnxruntime.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSession, floatTensor } from "../ort-session.js";
import { GraphBuilder } from "./graph-builder.js";

/** Top-level fields of a protobuf message: [field number, payload] for length-delimited ones. */
function lengthDelimited(buf: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  let o = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[o++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (o < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 5) o += 4;
    else if (wire === 1) o += 8;
    else {
      const n = varint();
      out.push([tag >>> 3, buf.subarray(o, o + n)]);
      o += n;
    }
  }
  return out;
}

function doubled(): GraphBuilder {
  const g = new GraphBuilder("doubled");
  const x = g.input("x", "float32", ["N"]);
  g.output(g.op("Mul", [x, g.scalar(2)]), "y", "float32", ["N"]);
  return g;
}

test("metadata entries are written as ModelProto.metadata_props {key, value}, last value of a key wins", () => {
  const bytes = doubled().metadata("kind", "test").metadata("layers", "4").metadata("kind", "frequency-prior").build();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const entries = lengthDelimited(bytes)
    .filter(([field]) => field === 14)
    .map(([, entry]) => Object.fromEntries(lengthDelimited(entry).map(([f, v]) => [f, text(v)])));
  assert.deepEqual(entries, [
    { 1: "kind", 2: "frequency-prior" },
    { 1: "layers", 2: "4" },
  ]);
});

test("a model without metadata has no metadata_props field", () => {
  assert.equal(lengthDelimited(doubled().build()).filter(([field]) => field === 14).length, 0);
});

test("a model with metadata loads and runs in onnxruntime", async () => {
  const session = await createSession(doubled().metadata("kind", "test").build(), { threads: 1, executionProvider: "cpu" });
  try {
    const out = await session.run({ x: floatTensor(Float32Array.of(1, -2.5), [2]) });
    assert.deepEqual(Array.from(out.y.data as Float32Array), [2, -5]);
  } finally {
    await session.release();
  }
});
