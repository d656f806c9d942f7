import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, defineConfig } from "./config.js";

const shardConfig = defineConfig(
  { envPrefix: "EXPERTMESH_SHARD_" },
  {
    port: { type: "int", default: 50061, min: 0, max: 65535, description: "gRPC port" },
    host: { type: "string", default: "127.0.0.1", description: "interface to listen on" },
    policy: { type: "enum", values: ["lru", "expertflow"], default: "lru", description: "cache policy" },
    deviceBudget: { type: "bytes", default: 256 * 2 ** 20, description: "device-tier budget" },
    drainTimeout: { type: "duration", default: 30_000, description: "drain timeout" },
    prefetch: { type: "boolean", default: true, description: "act on prefetch hints" },
    natsServers: { type: "list", default: ["nats://127.0.0.1:4222"], description: "NATS servers" },
    shardId: {
      type: "string",
      required: true,
      validate: (v: string) => (/^[a-z0-9-]+$/.test(v) ? undefined : "lowercase letters, digits and dashes only"),
      description: "shard id in placement",
    },
    model: { type: "string", env: "EXPERTMESH_MODEL", flag: "--model-dir", description: "model directory" },
  },
);

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  return assert.fail("no error");
}

test("defaults apply when neither flag nor env is set; the result is typed and frozen", () => {
  const config = shardConfig.parse(["--shard-id", "s0"], {});
  assert.deepEqual(
    { ...config },
    {
      port: 50061,
      host: "127.0.0.1",
      policy: "lru",
      deviceBudget: 268_435_456,
      drainTimeout: 30_000,
      prefetch: true,
      natsServers: ["nats://127.0.0.1:4222"],
      shardId: "s0",
      model: undefined,
    },
  );
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.natsServers));
  const port: number = config.port; // typed
  const policy: "lru" | "expertflow" = config.policy;
  const model: string | undefined = config.model;
  assert.equal(typeof port + typeof policy + typeof model, "numberstringundefined");
});

test("a flag wins over the environment, which wins over the default", () => {
  const env = { EXPERTMESH_SHARD_PORT: "7000", EXPERTMESH_SHARD_POLICY: "expertflow", EXPERTMESH_SHARD_SHARD_ID: "env-shard" };
  const config = shardConfig.parse(["--port=7001", "--device-budget", "1.5GiB", "--drain-timeout", "2m", "--no-prefetch"], env);
  assert.equal(config.port, 7001);
  assert.equal(config.policy, "expertflow");
  assert.equal(config.shardId, "env-shard");
  assert.equal(config.deviceBudget, 1.5 * 2 ** 30);
  assert.equal(config.drainTimeout, 120_000);
  assert.equal(config.prefetch, false);
});

test("explicit env and flag names replace the derived ones", () => {
  const config = shardConfig.parse(["--shard-id=a", "--model-dir", "/m"], {});
  assert.equal(config.model, "/m");
  assert.equal(shardConfig.parse(["--shard-id=a"], { EXPERTMESH_MODEL: "/n" }).model, "/n");
  assert.equal(configError(() => shardConfig.parse(["--shard-id=a", "--model", "/m"], {})).source, "--model");
});

test("a value of the wrong type names the key, its source and the value", () => {
  const error = configError(() => shardConfig.parse(["--shard-id=a"], { EXPERTMESH_SHARD_PORT: "80a" }));
  assert.deepEqual([error.key, error.source, error.value], ["port", "EXPERTMESH_SHARD_PORT", "80a"]);
  assert.match(error.message, /config port: invalid value "80a" from EXPERTMESH_SHARD_PORT: expected an integer/);
});

test("a value out of range names the key and the bound", () => {
  const error = configError(() => shardConfig.parse(["--shard-id=a", "--port", "70000"], {}));
  assert.equal(error.key, "port");
  assert.match(error.message, /"70000" from --port: must be at most 65535/);
});

test("an enum value outside its set lists the allowed values", () => {
  const error = configError(() => shardConfig.parse(["--shard-id=a", "--policy=fifo"], {}));
  assert.equal(error.key, "policy");
  assert.match(error.message, /expected one of lru, expertflow/);
});

test("a custom validation failure names the key and says why", () => {
  const error = configError(() => shardConfig.parse(["--shard-id", "Shard_0"], {}));
  assert.deepEqual([error.key, error.value], ["shardId", "Shard_0"]);
  assert.match(error.message, /lowercase letters, digits and dashes only/);
});

test("a missing required key names its flag and env var", () => {
  const error = configError(() => shardConfig.parse([], {}));
  assert.equal(error.key, "shardId");
  assert.match(error.message, /--shard-id or EXPERTMESH_SHARD_SHARD_ID/);
});

test("an unknown flag, a flag without its value and a stray argument are errors", () => {
  assert.match(configError(() => shardConfig.parse(["--shard-id=a", "--prot", "1"], {})).message, /unknown flag --prot/);
  assert.match(configError(() => shardConfig.parse(["--shard-id"], {})).message, /--shard-id needs a value/);
  assert.match(configError(() => shardConfig.parse(["--shard-id=a", "extra"], {})).message, /unexpected argument "extra"/);
});

test("an empty environment variable counts as unset", () => {
  assert.equal(shardConfig.parse(["--shard-id=a"], { EXPERTMESH_SHARD_PORT: "" }).port, 50061);
});

test("help lists every key with its flag, env var and default", () => {
  const help = shardConfig.help();
  assert.match(help, /--port, EXPERTMESH_SHARD_PORT {2}int \(default 50061\)/);
  assert.match(help, /--policy, EXPERTMESH_SHARD_POLICY {2}enum \[lru\|expertflow\]/);
  assert.match(help, /--shard-id, EXPERTMESH_SHARD_SHARD_ID {2}string \(required\)/);
});
