// Tensors on the wire (expertmesh.v1.Tensor): validation on receipt and float32 conversion.
// A Tensor is row-major little-endian `data` with `shape` and `dtype`; anything inconsistent is an
// InvalidArgumentError naming the field, the expected size and the size given.

import { Dtype, type Tensor } from "@expertmesh/proto";
import { endianness } from "node:os";
import { InvalidArgumentError } from "./errors.js";

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<Exclude<Dtype, Dtype.DTYPE_UNSPECIFIED | Dtype.UNRECOGNIZED>, number>> = Object.freeze({
  [Dtype.DTYPE_FLOAT32]: 4,
  [Dtype.DTYPE_FLOAT16]: 2,
  [Dtype.DTYPE_BFLOAT16]: 2,
  [Dtype.DTYPE_INT32]: 4,
  [Dtype.DTYPE_INT64]: 8,
  [Dtype.DTYPE_INT8]: 1,
  [Dtype.DTYPE_UINT8]: 1,
});

/** What a receiver expects of a tensor field; each given constraint is checked. */
export interface TensorExpectation {
  readonly dtype?: Dtype;
  /** Expected dimensions; undefined entries match any size. Its length is the expected rank. */
  readonly shape?: readonly (number | undefined)[];
  /** Most elements accepted (a bound on work, below the message-size limit). */
  readonly maxElements?: number;
}

/**
 * Checks a received tensor: a known dtype, data length = product(shape) x element size, and the
 * expectation. Returns it with its element count; throws InvalidArgumentError naming `field`.
 */
export function validateTensor(
  tensor: Tensor | undefined,
  field: string,
  expect: TensorExpectation = {},
): Tensor & { readonly elements: number } {
  if (tensor === undefined) throw new InvalidArgumentError(field, "tensor is missing", { reason: "TENSOR_MISSING" });
  const elementBytes = DTYPE_BYTES[tensor.dtype as keyof typeof DTYPE_BYTES];
  if (elementBytes === undefined) {
    throw new InvalidArgumentError(`${field}.dtype`, "unknown or unset dtype", {
      reason: "TENSOR_DTYPE_INVALID",
      value: Dtype[tensor.dtype] ?? tensor.dtype,
    });
  }
  if (expect.dtype !== undefined && tensor.dtype !== expect.dtype) {
    throw new InvalidArgumentError(`${field}.dtype`, `expected ${Dtype[expect.dtype]}`, {
      reason: "TENSOR_DTYPE_MISMATCH",
      limit: Dtype[expect.dtype],
      value: Dtype[tensor.dtype],
    });
  }
  if (expect.shape !== undefined) {
    const wanted = expect.shape;
    const matches = tensor.shape.length === wanted.length && wanted.every((d, i) => d === undefined || d === tensor.shape[i]);
    if (!matches) {
      throw new InvalidArgumentError(`${field}.shape`, "unexpected shape", {
        reason: "TENSOR_SHAPE_MISMATCH",
        limit: `[${wanted.map((d) => d ?? "*").join(",")}]`,
        value: `[${tensor.shape.join(",")}]`,
      });
    }
  }
  const elements = tensor.shape.reduce((n, d) => n * d, 1);
  if (expect.maxElements !== undefined && elements > expect.maxElements) {
    throw new InvalidArgumentError(`${field}.shape`, `more than ${expect.maxElements} elements`, {
      reason: "TENSOR_TOO_LARGE",
      limit: expect.maxElements,
      value: elements,
    });
  }
  if (tensor.data.byteLength !== elements * elementBytes) {
    throw new InvalidArgumentError(`${field}.data`, `byte length does not match shape [${tensor.shape.join(",")}]`, {
      reason: "TENSOR_SIZE_MISMATCH",
      limit: elements * elementBytes,
      value: tensor.data.byteLength,
    });
  }
  return { ...tensor, elements };
}

/** A float32 Tensor of `values` with `shape` (product must equal values.length). */
export function float32Tensor(values: Float32Array, shape: readonly number[]): Tensor {
  const elements = shape.reduce((n, d) => n * d, 1);
  if (elements !== values.length) throw new RangeError(`shape [${shape.join(",")}] holds ${elements} values, got ${values.length}`);
  const data = Buffer.from(values.buffer, values.byteOffset, values.byteLength); // a view, not a copy
  return { dtype: Dtype.DTYPE_FLOAT32, shape: [...shape], data: LITTLE_ENDIAN ? data : byteSwapped(data, 4) };
}

/**
 * The values of a float32 tensor, validated as `field` (see validateTensor). Zero-copy when the
 * bytes are 4-byte aligned (they are a view into the received message), copied otherwise.
 */
export function tensorToFloat32(tensor: Tensor | undefined, field: string, expect: Omit<TensorExpectation, "dtype"> = {}): Float32Array {
  const valid = validateTensor(tensor, field, { ...expect, dtype: Dtype.DTYPE_FLOAT32 });
  let bytes: Uint8Array = valid.data;
  if (!LITTLE_ENDIAN) bytes = byteSwapped(bytes, 4);
  else if (bytes.byteOffset % 4 !== 0) bytes = new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
  return new Float32Array(bytes.buffer, bytes.byteOffset, valid.elements);
}

const LITTLE_ENDIAN = endianness() === "LE";

function byteSwapped(data: Uint8Array, width: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i += width) for (let j = 0; j < width; j++) out[i + j] = data[i + width - 1 - j]!;
  return out;
}
