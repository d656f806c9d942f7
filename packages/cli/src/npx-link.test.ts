// `npx expertmesh generate --help` on a fresh clone after `make build`. On a fresh clone `npm ci` runs
// before dist/ exists, so npm links no bin; the Makefile's build target links it once dist/main.js is
// built. This runs that target's own link lines (read from the Makefile) in a clone-like folder whose
// workspace link points at this package, without the bin link that npm ci would have skipped, and then
// runs `npx --no-install expertmesh` there as a user would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = resolve(PACKAGE, "../..");
const clone = mkdtempSync(join(tmpdir(), "cli-npx-"));
after(() => rmSync(clone, { recursive: true, force: true }));

/** The recipe lines of a Makefile target. */
function recipe(makefile: string, target: string): string[] {
  const lines = makefile.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`${target}:`));
  assert.ok(start >= 0, `no ${target} target`);
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith("\t")) break;
    out.push(l.slice(1));
  }
  return out;
}

test("make build links the expertmesh bin that npm ci skipped, and npx expertmesh generate --help works", async () => {
  const link = recipe(readFileSync(join(REPO, "Makefile"), "utf8"), "build").filter((l) => /^(chmod|ln) /.test(l));
  assert.ok(
    link.some((l) => l.includes("node_modules/.bin/expertmesh")),
    `build links the bin: ${link.join("; ")}`,
  );
  // The clone after `npm ci` (workspace links, no bin: dist/ did not exist then) and after tsc (dist/ now does).
  mkdirSync(join(clone, "node_modules/@expertmesh"), { recursive: true });
  mkdirSync(join(clone, "node_modules/.bin"));
  symlinkSync(PACKAGE, join(clone, "node_modules/@expertmesh/cli"));
  mkdirSync(join(clone, "packages/cli"), { recursive: true });
  symlinkSync(join(PACKAGE, "dist"), join(clone, "packages/cli/dist"));
  assert.equal(existsSync(join(clone, "node_modules/.bin/expertmesh")), false);
  const sh = promisify(execFile);
  for (const l of link) await sh("sh", ["-c", l], { cwd: clone });
  const { stdout } = await sh("npx", ["--no-install", "expertmesh", "generate", "--help"], {
    cwd: clone,
    env: { ...process.env, npm_config_offline: "true", npm_config_update_notifier: "false" },
  });
  assert.match(stdout, /expertmesh generate \(--prompt TEXT \| --prompts-file FILE\)/);
  assert.match(stdout, /--target HOST:PORT/);
});
