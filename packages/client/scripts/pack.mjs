#!/usr/bin/env node
// Packs the SDK as an installable npm package: `node packages/client/scripts/pack.mjs [--out DIR]`
// (after `make build`) prints the path of @expertmesh/client-<version>.tgz.
//
// The workspace package imports @expertmesh/proto and @expertmesh/runtime/public, which are not
// published: the tarball ships their compiled code inside it (dist/internal/proto, dist/internal/runtime,
// the generated proto code included) with the imports rewritten to relative paths, so that it depends on
// @grpc/grpc-js and @bufbuild/protobuf only. The closure is followed from dist/index.js (JS and .d.ts);
// any other package it reaches (prom-client, NATS, OpenTelemetry, server code) fails the pack, so the SDK
// cannot silently grow a server dependency.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const client = resolve(here, "..");
const repo = resolve(client, "../..");
const { values } = parseArgs({ options: { out: { type: "string" }, keep: { type: "boolean" } } });
const out = resolve(values.out ?? process.cwd());

/** Packages whose code goes inside the tarball: import specifier -> [their dist/, where in the tarball]. */
const VENDORED = {
  "@expertmesh/proto": { dist: join(repo, "packages/proto/dist"), entry: "index", into: "dist/internal/proto" },
  "@expertmesh/runtime/public": { dist: join(repo, "packages/runtime/dist"), entry: "public", into: "dist/internal/runtime" },
};
const own = { dist: join(client, "dist"), entry: "index", into: "dist" };
const pkg = JSON.parse(readFileSync(join(client, "package.json"), "utf8"));
const protoPkg = JSON.parse(readFileSync(join(repo, "packages/proto/package.json"), "utf8"));
/** What the tarball may import: these dependencies (and subpaths) and Node's built-ins. */
const DEPENDENCIES = {
  "@grpc/grpc-js": pkg.dependencies["@grpc/grpc-js"],
  "@bufbuild/protobuf": protoPkg.dependencies["@bufbuild/protobuf"],
};

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g;
const stage = mkdtempSync(join(tmpdir(), "expertmesh-client-pack-"));
const done = new Set();

/** Copies module `name` (no extension) of package `p` and everything it imports, JS and declarations. */
function copyModule(p, name) {
  const key = `${p.into}/${name}`;
  if (done.has(key)) return;
  done.add(key);
  const js = join(p.dist, `${name}.js`);
  if (!existsSync(js)) throw new Error(`${js} not found: run \`make build\` first`);
  for (const ext of [".js", ".d.ts"]) {
    const file = join(p.dist, `${name}${ext}`);
    if (!existsSync(file)) continue;
    const target = join(stage, p.into, `${name}${ext}`);
    const text = readFileSync(file, "utf8").replace(/\n\/\/# sourceMappingURL=.*$/m, "");
    const rewritten = text.replace(SPECIFIER, (all, lead, quote, spec) => {
      if (spec.startsWith(".")) {
        copyModule(p, join(dirname(name), spec).replace(/\.js$/, ""));
        return all;
      }
      const v = VENDORED[spec];
      if (v) {
        copyModule(v, v.entry);
        let rel = relative(dirname(target), join(stage, v.into, `${v.entry}.js`));
        if (!rel.startsWith(".")) rel = `./${rel}`;
        return `${lead}${quote}${rel}${quote}`;
      }
      const base = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (spec.startsWith("node:") || base in DEPENDENCIES) return all;
      throw new Error(
        `${relative(repo, file)} imports ${JSON.stringify(spec)}: not a dependency of the SDK (${Object.keys(DEPENDENCIES).join(", ")})`,
      );
    });
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, rewritten);
  }
}

try {
  copyModule(own, own.entry);
  const manifest = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: "Apache-2.0",
    type: "module",
    main: "./dist/index.js",
    types: "./dist/index.d.ts",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    files: ["dist", "README.md", "LICENSE"],
    engines: { node: ">=20" },
    dependencies: DEPENDENCIES,
  };
  writeFileSync(join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  cpSync(join(client, "README.md"), join(stage, "README.md"));
  cpSync(join(repo, "LICENSE"), join(stage, "LICENSE"));
  mkdirSync(out, { recursive: true });
  const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: stage, encoding: "utf8" }));
  console.log(join(out, packed[0].filename));
} finally {
  if (!values.keep) rmSync(stage, { recursive: true, force: true });
}
