// The generated code is checked in (builds never need buf); this test fails when it no longer matches
// proto/ and buf.gen.yaml. Fix: `npm run proto` at the repo root.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Dtype, ExpertShardServiceService, readDescriptorSet, Tensor } from "./index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const checkedIn = join(root, "packages/proto/src/gen");

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return out;
}

test("packages/proto/src/gen is what buf generate makes from proto/", () => {
  const out = mkdtempSync(join(tmpdir(), "expertmesh-proto-"));
  try {
    const bin = join(root, "node_modules/.bin");
    execFileSync(join(bin, "buf"), ["generate", "-o", out], {
      cwd: root,
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const fresh = files(join(out, "packages/proto/src/gen"));
    const current = files(checkedIn);
    assert.deepEqual([...current.keys()].sort(), [...fresh.keys()].sort(), "generated file set differs: run `npm run proto`");
    for (const [name, text] of fresh) assert.ok(current.get(name) === text, `${name} is stale: run \`npm run proto\``);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the index exposes working codecs and service definitions", () => {
  const tensor = { dtype: Dtype.DTYPE_FLOAT32, shape: [1, 2], data: Buffer.alloc(8, 1) };
  assert.deepEqual(Tensor.decode(Tensor.encode(tensor).finish()), tensor);
  assert.equal(ExpertShardServiceService.runExperts.path, "/expertmesh.v1.ExpertShardService/RunExperts");
});

test("packages/proto/descriptor-set.binpb is what buf build makes from proto/", () => {
  const out = mkdtempSync(join(tmpdir(), "expertmesh-descriptors-"));
  try {
    execFileSync(join(root, "node_modules/.bin/buf"), ["build", "--as-file-descriptor-set", "-o", join(out, "set.binpb")], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
    });
    assert.ok(readFileSync(join(out, "set.binpb")).equals(readDescriptorSet()), "descriptor-set.binpb is stale: run `npm run proto`");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
