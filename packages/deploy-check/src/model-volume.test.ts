// The model volume's script (deploy/docker/model-volume.sh) run for real with sh and sha256sum on a copy of a
// model directory: checksums written, a load that checks every file and appears only complete, a rerun
// that keeps a good copy, a damaged file found and named, a missing directory waited for and then refused.
// And the images that carry it: the model image writes SHA256SUMS at build, both service images install
// the script where the initContainers call it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { checkDockerfile, MODEL_VOLUME_SCRIPT, parseDockerfile } from "./index.js";

const DEPLOY = resolve(dirname(fileURLToPath(import.meta.url)), "../../../deploy");
const SCRIPT = join(DEPLOY, "docker", "model-volume.sh");
const scratch = mkdtempSync(join(tmpdir(), "model-volume-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync("sh", [SCRIPT, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A small model directory: a config, a nested weight file and a name with a space. */
function modelDir(): string {
  const dir = mkdtempSync(join(scratch, "src-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ architectures: ["MixtralForCausalLM"] }));
  mkdirSync(join(dir, "weights"));
  writeFileSync(join(dir, "weights", "model-00001-of-00001.safetensors"), Buffer.alloc(4096, 7));
  writeFileSync(join(dir, "tokenizer config.json"), "{}");
  return dir;
}

test("sums, load and check: the copy is checked file by file, appears whole, and a rerun keeps it", () => {
  const src = modelDir();
  const sums = run("sums", src);
  assert.equal(sums.code, 0, sums.err);
  const lines = readFileSync(join(src, "SHA256SUMS"), "utf8").trim().split("\n");
  assert.deepEqual(
    lines.map((l) => l.slice(66)),
    ["./config.json", "./tokenizer config.json", "./weights/model-00001-of-00001.safetensors"],
  );
  const volume = mkdtempSync(join(scratch, "volume-"));
  const dest = join(volume, "my-model");
  const load = run("load", src, dest);
  assert.equal(load.code, 0, load.err);
  assert.match(load.out, /3 files match SHA256SUMS/);
  assert.deepEqual(readdirSync(volume), ["my-model"], "no partial directory left beside the model");
  assert.deepEqual(readFileSync(join(dest, "weights", "model-00001-of-00001.safetensors")), Buffer.alloc(4096, 7));
  const again = run("load", src, dest);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /already loaded and checked/);
  const check = run("check", dest);
  assert.equal(check.code, 0, check.err);
});

test("a damaged file fails the check, named; the loader replaces the damaged copy", () => {
  const src = modelDir();
  assert.equal(run("sums", src).code, 0);
  const dest = join(mkdtempSync(join(scratch, "volume-")), "m");
  assert.equal(run("load", src, dest).code, 0);
  appendFileSync(join(dest, "weights", "model-00001-of-00001.safetensors"), "x");
  const check = run("check", dest);
  assert.equal(check.code, 1);
  assert.match(check.err, /weights\/model-00001-of-00001\.safetensors: FAILED/);
  assert.match(check.err, /does not match its SHA256SUMS/);
  assert.doesNotMatch(check.err, /config\.json/, "only the failing files are listed");
  const reload = run("load", src, dest);
  assert.equal(reload.code, 0, reload.err);
  assert.match(reload.err, /loading it again/);
  assert.equal(run("check", dest).code, 0);
});

test("check waits for a missing directory, then refuses with what to look at; bad arguments are refused", () => {
  const missing = join(scratch, "not-loaded");
  const r = run("check", missing, "2");
  assert.equal(r.code, 1);
  assert.match(r.out, /waiting up to 2s/);
  assert.match(r.err, /no model at .*not-loaded after 2s \(has the model-loader Job run\?/);
  assert.match(run("check", missing, "soon").err, /WAIT_SECONDS must be a whole number of seconds, got 'soon'/);
  const src = modelDir();
  assert.match(run("load", src, join(scratch, "x")).err, /SHA256SUMS is missing \(build the model image/);
  assert.match(run("remove").err, /usage: expertmesh-model-volume sums DIR \| load SRC DEST \| check DIR/);
  assert.equal(existsSync(join(scratch, "x")), false);
});

/** Whether the final stage copies deploy/docker/model-volume.sh to where the manifests call it. */
function installsScript(text: string): boolean {
  const instructions = parseDockerfile(text);
  const last = instructions.map((i) => i.op).lastIndexOf("FROM");
  return instructions.slice(last).some((i) => i.op === "COPY" && i.args.endsWith(` ${MODEL_VOLUME_SCRIPT}`) && /model-volume/.test(i.args));
}

test("the images: the model image writes SHA256SUMS at build and runs as non-root; both service images carry the check", () => {
  for (const f of ["Dockerfile", "Dockerfile.cuda", "Dockerfile.model"])
    assert.ok(installsScript(readFileSync(join(DEPLOY, "docker", f), "utf8")), `${f} installs ${MODEL_VOLUME_SCRIPT}`);
  const model = readFileSync(join(DEPLOY, "docker", "Dockerfile.model"), "utf8");
  // The generic checks, except the one this image exists to break (it ships the model).
  const problems = checkDockerfile(model, { ports: [] }).filter((p) => !/copies model files/.test(p));
  assert.deepEqual(problems, []);
  const runs = parseDockerfile(model).filter((i) => i.op === "RUN");
  assert.ok(
    runs.some((i) => /expertmesh-model-volume sums \/model/.test(i.args)),
    "SHA256SUMS written at build",
  );
  const ignore = readFileSync(join(DEPLOY, "docker", "Dockerfile.model.dockerignore"), "utf8");
  assert.match(ignore, /^!deploy\/docker\/model-volume\.sh$/m);
  assert.ok(
    !installsScript(
      model.replace(/COPY deploy\/docker\/model-volume\.sh [^\n]*\n/, "").replace(/COPY --from=sums[^\n]*model-volume[^\n]*\n/, ""),
    ),
  );
});
