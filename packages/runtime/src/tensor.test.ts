import { Dtype, Tensor } from "@expertmesh/proto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError } from "./errors.js";
import { float32Tensor, tensorToFloat32, validateTensor } from "./tensor.js";

function invalid(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidArgumentError, String(error));
    return error;
  }
  return assert.fail("no error");
}

test("a float32 tensor survives the wire: encode, decode, read back the same values", () => {
  const values = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
  const decoded = Tensor.decode(Tensor.encode(float32Tensor(values, [2, 3])).finish());
  assert.deepEqual(decoded.shape, [2, 3]);
  assert.equal(decoded.dtype, Dtype.DTYPE_FLOAT32);
  assert.deepEqual(tensorToFloat32(decoded, "x", { shape: [undefined, 3] }), values);
});

test("the data is little-endian float32", () => {
  const tensor = float32Tensor(Float32Array.of(1), [1]);
  assert.deepEqual([...tensor.data], [0x00, 0x00, 0x80, 0x3f]);
});

test("unaligned bytes are copied, not misread", () => {
  const backing = Buffer.alloc(4 * 3 + 1);
  Buffer.from(Float32Array.of(1, 2, 3).buffer).copy(backing, 1);
  const tensor = { dtype: Dtype.DTYPE_FLOAT32, shape: [3], data: backing.subarray(1) };
  assert.deepEqual([...tensorToFloat32(tensor, "x")], [1, 2, 3]);
});

test("a byte length that does not match the shape is INVALID_ARGUMENT naming the field, expected and given size", () => {
  const error = invalid(() =>
    validateTensor({ dtype: Dtype.DTYPE_FLOAT32, shape: [2, 4], data: Buffer.alloc(28) }, "inputs[0].hidden_states"),
  );
  assert.deepEqual(
    [error.field, error.reason, error.limit, error.value],
    ["inputs[0].hidden_states.data", "TENSOR_SIZE_MISMATCH", "32", "28"],
  );
});

test("an unset dtype, a wrong dtype, a wrong shape, a missing tensor and too many elements are rejected", () => {
  assert.equal(
    invalid(() => validateTensor({ dtype: Dtype.DTYPE_UNSPECIFIED, shape: [1], data: Buffer.alloc(4) }, "t")).reason,
    "TENSOR_DTYPE_INVALID",
  );
  assert.equal(
    invalid(() => tensorToFloat32({ dtype: Dtype.DTYPE_INT32, shape: [1], data: Buffer.alloc(4) }, "t")).reason,
    "TENSOR_DTYPE_MISMATCH",
  );
  const shape = invalid(() => validateTensor(float32Tensor(new Float32Array(6), [2, 3]), "t", { shape: [undefined, 4] }));
  assert.deepEqual([shape.reason, shape.limit, shape.value], ["TENSOR_SHAPE_MISMATCH", "[*,4]", "[2,3]"]);
  assert.equal(invalid(() => validateTensor(undefined, "t")).reason, "TENSOR_MISSING");
  assert.equal(invalid(() => validateTensor(float32Tensor(new Float32Array(6), [6]), "t", { maxElements: 5 })).reason, "TENSOR_TOO_LARGE");
});

test("a scalar has an empty shape and one element", () => {
  assert.equal(validateTensor(float32Tensor(Float32Array.of(7), []), "s").elements, 1);
});
