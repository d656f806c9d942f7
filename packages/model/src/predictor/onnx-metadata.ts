// Reads the metadata of an ONNX model (ModelProto.metadata_props, field 14: StringStringEntryProto
// {key = 1, value = 2}) from its bytes. onnxruntime-node does not expose custom metadata, so this walks
// the top level of the protobuf and skips every other field (the graph and its weights) unparsed.

/** Metadata entries of the serialised ModelProto `model`; a repeated key keeps its last value. */
export function readOnnxMetadata(model: Uint8Array, name = "model"): Map<string, string> {
  const out = new Map<string, string>();
  for (const [field, entry] of lengthDelimitedFields(model, name)) {
    if (field !== 14) continue;
    let key = "";
    let value = "";
    for (const [f, bytes] of lengthDelimitedFields(entry, `${name}: metadata_props`)) {
      if (f === 1) key = utf8.decode(bytes);
      else if (f === 2) value = utf8.decode(bytes);
    }
    out.set(key, value);
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** [field number, payload] of each length-delimited field of one message level; other fields skipped. */
function lengthDelimitedFields(buf: Uint8Array, name: string): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  let o = 0;
  const fail = (why: string): never => {
    throw new Error(`${name}: not an ONNX model (${why} at byte ${o})`);
  };
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (o >= buf.length) fail("truncated varint");
      const b = buf[o++];
      value += (b & 0x7f) * 2 ** shift; // exact below 2^53, which bounds every length here
      if (b < 0x80) return value;
    }
    return fail("varint too long");
  };
  while (o < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        varint();
        break;
      case 1:
        o += 8;
        break;
      case 5:
        o += 4;
        break;
      case 2: {
        const length = varint();
        if (o + length > buf.length) fail(`field ${field} longer than the file`);
        out.push([field, buf.subarray(o, o + length)]);
        o += length;
        break;
      }
      default:
        fail(`wire type ${tag % 8}`);
    }
    if (o > buf.length) fail("truncated field");
  }
  return out;
}
