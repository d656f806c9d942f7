// Builds ONNX models in TypeScript: named values, nodes with attributes, initializers, metadata, and the
// serialised ModelProto (IR 8, opset 17) that onnxruntime-node loads from a buffer.
//
// Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto, TypeProto, TensorShapeProto).
import { ProtoWriter } from "./protobuf-writer.js";

export type ElemType = "float32" | "int64" | "int32" | "bool" | "uint8";
const ELEM: Record<ElemType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9 };

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/** Attribute values: integers, `{ f: x }` for floats, integer lists, strings. */
export type Attr = number | { f: number } | number[] | string;

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  domain?: string;
}
interface ValueInfo {
  name: string;
  type: ElemType;
  dims: Dim[];
}
interface Initializer {
  name: string;
  type: ElemType;
  dims: number[];
  data: Uint8Array;
}

export const OPSET = 17;
/** Operators outside the default domain (e.g. com.microsoft's MatMulNBits) are written as `domain:Op`. */
const CONTRIB_OPSET = 1;
const IR_VERSION = 8;

export class GraphBuilder {
  private nodes: Node[] = [];
  private inputs: ValueInfo[] = [];
  private outputs: ValueInfo[] = [];
  private inits: Initializer[] = [];
  private meta = new Map<string, string>();
  private counter = 0;
  /** Values renamed to a graph output's name by `output`. */
  private aliases = new Map<string, string>();

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push({ name, type, dims });
    return name;
  }

  /** Marks `value` as a graph output called `name` (through an Identity node when the names differ). */
  output(value: string, name: string, type: ElemType, dims: Dim[]): void {
    value = this.resolve(value);
    if (value !== name) {
      // A node's output takes the graph output's name (no Identity node: each node costs time per run);
      // later references to the old name are translated. Graph inputs, initializers and values that are
      // already an output get an Identity.
      const producer = this.nodes.find((n) => n.outputs.includes(value));
      if (producer && !this.outputs.some((o) => o.name === value)) {
        for (const n of this.nodes) {
          n.inputs = n.inputs.map((i) => (i === value ? name : i));
          n.outputs = n.outputs.map((o) => (o === value ? name : o));
        }
        this.aliases.set(value, name);
      } else {
        this.nodes.push({ op: "Identity", inputs: [value], outputs: [name], attrs: {} });
      }
    }
    this.outputs.push({ name, type, dims });
  }

  private resolve(value: string): string {
    return this.aliases.get(value) ?? value;
  }

  initializer(hint: string, data: Float32Array | BigInt64Array | Int32Array | Uint8Array, dims: number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new RangeError(`initializer ${hint}: ${data.length} values for dims [${dims}]`);
    const type: ElemType =
      data instanceof Float32Array ? "float32" : data instanceof BigInt64Array ? "int64" : data instanceof Uint8Array ? "uint8" : "int32";
    const name = this.fresh(hint);
    this.inits.push({ name, type, dims, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() });
    return name;
  }

  /** An int64 constant (shapes, axes, indices). */
  ints(values: number[], hint = "const_i64"): string {
    return this.initializer(hint, BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  /** A float32 scalar constant. */
  scalar(value: number, hint = "const_f32"): string {
    return this.initializer(hint, Float32Array.of(value), []);
  }

  /** Adds a node with one output and returns the output's name. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, hint?: string): string {
    return this.opN(op, inputs, 1, attrs, hint)[0];
  }

  /** Adds a node with `n` outputs. */
  opN(op: string, inputs: string[], n: number, attrs: Record<string, Attr> = {}, hint?: string): string[] {
    const outputs = Array.from({ length: n }, () => this.fresh(hint ?? op.toLowerCase().replace(/\W/g, "_")));
    inputs = inputs.map((i) => this.resolve(i));
    const colon = op.indexOf(":");
    if (colon < 0) this.nodes.push({ op, inputs, outputs, attrs });
    else this.nodes.push({ op: op.slice(colon + 1), domain: op.slice(0, colon), inputs, outputs, attrs });
    return outputs;
  }

  /** Sets a model metadata entry (ModelProto.metadata_props); a second call with the same key replaces it. */
  metadata(key: string, value: string): this {
    this.meta.set(key, value);
    return this;
  }

  build(): Uint8Array {
    const w = new ProtoWriter();
    w.int(1, IR_VERSION);
    w.string(2, "expertmesh");
    w.message(7, (g) => this.writeGraph(g));
    w.message(8, (o) => o.string(1, "").int(2, OPSET));
    for (const d of new Set(this.nodes.flatMap((n) => (n.domain ? [n.domain] : []))))
      w.message(8, (o) => o.string(1, d).int(2, CONTRIB_OPSET));
    // metadata_props: StringStringEntryProto {key = 1, value = 2}
    for (const [key, value] of this.meta) w.message(14, (m) => m.string(1, key).string(2, value));
    return w.finish();
  }

  private writeGraph(g: ProtoWriter): void {
    for (const n of this.nodes) {
      g.message(1, (m) => {
        for (const i of n.inputs) m.string(1, i);
        for (const o of n.outputs) m.string(2, o);
        m.string(4, n.op);
        if (n.domain) m.string(7, n.domain);
        for (const [k, v] of Object.entries(n.attrs)) m.message(5, (a) => writeAttr(a, k, v));
      });
    }
    g.string(2, this.name);
    for (const t of this.inits) {
      g.message(5, (m) => {
        for (const d of t.dims) m.int(1, d);
        m.int(2, ELEM[t.type]);
        m.string(8, t.name);
        m.bytes(9, t.data);
      });
    }
    for (const v of this.inputs) g.message(11, (m) => writeValueInfo(m, v));
    for (const v of this.outputs) g.message(12, (m) => writeValueInfo(m, v));
  }
}

function writeAttr(a: ProtoWriter, name: string, v: Attr): void {
  a.string(1, name);
  if (typeof v === "number") a.int(3, v).int(20, 2);
  else if (typeof v === "string") a.string(4, v).int(20, 3);
  else if (Array.isArray(v)) {
    for (const x of v) a.int(8, x);
    a.int(20, 7);
  } else a.float(2, v.f).int(20, 1);
}

function writeValueInfo(m: ProtoWriter, v: ValueInfo): void {
  m.string(1, v.name);
  m.message(2, (t) =>
    t.message(1, (tt) => {
      tt.int(1, ELEM[v.type]);
      tt.message(2, (s) => {
        for (const d of v.dims) s.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}
