// The SDK as a user installs it: `packages/client/scripts/pack.mjs` makes the tarball, `npm install` puts
// it in a folder outside the repository (offline: its two dependencies and theirs are copied there from
// the repository's node_modules first, as a registry would have delivered them), and a
// script there streams a generation from a real mesh. The installed tree holds no server package: had the
// SDK imported prom-client, NATS, OpenTelemetry or the runtime, the import would fail there. Its types
// check under strict TypeScript.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const clientDir = dirname(require.resolve("@expertmesh/client/package.json"));
const repoModules = join(clientDir, "../../node_modules");
const app = mkdtempSync(join(tmpdir(), "sdk-user-"));
let mesh: Mesh;

before(async () => {
  mesh = await startMesh({ shards: 1, predictor: false, nats: false });
});
after(async () => {
  await mesh.stop();
  rmSync(app, { recursive: true, force: true });
});

test("the packed SDK installs outside the repository and streams from a mesh, with no server code in its tree", async () => {
  const { stdout } = await run(process.execPath, [join(clientDir, "scripts/pack.mjs"), "--out", app]);
  const tarball = stdout.trim();
  assert.match(tarball, /expertmesh-client-\d+\.\d+\.\d+\.tgz$/);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "sdk-user", private: true, type: "module" }));
  // The SDK's dependencies and theirs, from the repository's node_modules (no network, no npm cache needed).
  const deps = Object.keys(JSON.parse((await run("tar", ["xzOf", tarball, "package/package.json"])).stdout).dependencies);
  const copied = new Set<string>();
  for (const queue = [...deps]; queue.length; ) {
    const name = queue.shift()!;
    if (copied.has(name)) continue;
    copied.add(name);
    cpSync(join(repoModules, name), join(app, "node_modules", name), { recursive: true, dereference: true });
    queue.push(
      ...Object.keys(
        (JSON.parse(readFileSync(join(repoModules, name, "package.json"), "utf8")) as { dependencies?: object }).dependencies ?? {},
      ),
    );
  }
  assert.deepEqual(deps.sort(), ["@bufbuild/protobuf", "@grpc/grpc-js"]);
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: app });
  const installed = readdirSync(join(app, "node_modules")).flatMap((d) =>
    d.startsWith("@") ? readdirSync(join(app, "node_modules", d)).map((n) => `${d}/${n}`) : [d],
  );
  assert.ok(installed.includes("@expertmesh/client") && installed.includes("@grpc/grpc-js"));
  for (const server of [
    "prom-client",
    "@expertmesh/runtime",
    "@expertmesh/proto",
    "@opentelemetry/api",
    "@opentelemetry/sdk-trace-base",
    "@nats-io/transport-node",
  ]) {
    assert.ok(!installed.includes(server), `${server} installed with the SDK`);
  }
  writeFileSync(
    join(app, "stream.mjs"),
    `
    import { ExpertMeshClient, InvalidArgumentError } from "@expertmesh/client";
    const tls = process.argv[3] ? JSON.parse(process.argv[3]) : undefined;
    const client = new ExpertMeshClient(process.argv[2], tls ? { tls } : {});
    const chunks = [];
    for await (const c of client.generate("The Congress of the United States", { maxTokens: 6 })) chunks.push(c);
    let invalid = false;
    try { await client.complete("x", { maxTokens: 100000 }); } catch (e) { invalid = e instanceof InvalidArgumentError; }
    client.close();
    console.log(JSON.stringify({ text: chunks.map((c) => c.text).join(""), tokens: chunks.flatMap((c) => c.tokenIds).length, finish: chunks.at(-1).finishReason, invalid }));
  `,
  );
  // A secure mesh (EXPERTMESH_SECURE_MESH=1): the script gets the CA and the operator's certificate as PEM text.
  const tls = mesh.clientOptions.tls;
  const pem = (x: string | Buffer | undefined) => (x === undefined ? undefined : x.toString());
  const tlsArg = tls ? JSON.stringify({ ca: pem(tls.ca), cert: pem(tls.cert), key: pem(tls.key) }) : "";
  const streamed = JSON.parse((await run(process.execPath, [join(app, "stream.mjs"), mesh.router.address, tlsArg], { cwd: app })).stdout);
  const inRepo = new ExpertMeshClient(mesh.router.address, mesh.clientOptions);
  try {
    const want = await inRepo.complete("The Congress of the United States", { maxTokens: 6 });
    assert.deepEqual(streamed, { text: want.text, tokens: 6, finish: "length", invalid: true });
  } finally {
    inRepo.close();
  }
});

test("the installed SDK's types check under strict TypeScript", async () => {
  assert.ok(existsSync(join(app, "node_modules/@expertmesh/client/dist/index.d.ts")), "installed by the test before");
  writeFileSync(
    join(app, "check.ts"),
    `
    import { ExpertMeshClient, type TokenChunk, ResourceExhaustedError } from "@expertmesh/client";
    const client = new ExpertMeshClient("127.0.0.1:1", { timeoutMs: 1000, tls: false });
    export async function first(): Promise<string> {
      for await (const c of client.generate("x", { maxTokens: 1, temperature: 0 })) { const t: TokenChunk = c; return t.text; }
      return new ResourceExhaustedError("queue", "full").resource;
    }
  `,
  );
  const tsc = join(repoModules, "typescript/bin/tsc");
  await run(
    process.execPath,
    [
      tsc,
      "--noEmit",
      "--strict",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--target",
      "es2022",
      "--skipLibCheck",
      "--types",
      "node",
      "--typeRoots",
      join(repoModules, "@types"),
      "check.ts",
    ],
    { cwd: app },
  );
});
