import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "@expertmesh/runtime";
import { budgetBytes, parseBudget } from "./budget.js";
import { parseShardConfig } from "./config.js";
import { ExpertShard } from "./shard.js";
import { bundledSizes, startShard } from "./testing.js";

const { L, E, expertBytes: EXPERT_BYTES } = bundledSizes();

test("budgets are a share of the owned experts or a size in bytes", () => {
  assert.deepEqual(parseBudget("25%"), { ok: true, budget: { kind: "share", percent: 25 } });
  assert.deepEqual(parseBudget("12.5 %"), { ok: true, budget: { kind: "share", percent: 12.5 } });
  assert.deepEqual(parseBudget("1179648"), { ok: true, budget: { kind: "bytes", bytes: 1179648 } });
  assert.deepEqual(parseBudget("6MiB"), { ok: true, budget: { kind: "bytes", bytes: 6 * 2 ** 20 } });
  for (const bad of ["0%", "101%", "-5", "lots", "5 parsecs", ""]) assert.equal(parseBudget(bad).ok, false, bad);
  assert.equal(budgetBytes({ kind: "share", percent: 25 }, 64 * 1000), 16 * 1000);
  assert.equal(budgetBytes({ kind: "share", percent: 12.5 }, 64 * 1000), 8 * 1000);
  assert.equal(budgetBytes({ kind: "bytes", bytes: 1000 }, 64 * 1000), 1000);
});

test("every key is settable by flag and environment variable; the flag wins", () => {
  const config = parseShardConfig(["--device-budget", "50%", "--compute-workers=2"], {
    EXPERTMESH_SHARD_DEVICE_BUDGET: "10%",
    EXPERTMESH_SHARD_ID: "1",
    EXPERTMESH_SHARD_SHARDS: "2",
    EXPERTMESH_SHARD_MAX_TOKENS_PER_CALL: "1024",
  });
  assert.equal(config.deviceBudget, "50%");
  assert.equal(config.shardId, 1);
  assert.equal(config.shards, 2);
  assert.equal(config.computeWorkers, 2);
  assert.equal(config.maxTokensPerCall, 1024);
  assert.equal(config.hostBudget, "100%");
  assert.ok(Object.isFrozen(config));
});

test("bad configuration fails at start-up with an error naming the key", async () => {
  const key = (argv: string[]) => {
    try {
      parseShardConfig(argv, {});
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.key;
    }
    return undefined;
  };
  assert.equal(key(["--device-budget", "lots"]), "deviceBudget");
  assert.equal(key(["--shard-id", "2", "--shards", "2"]), "shardId");
  assert.equal(key(["--replicas", "3", "--shards", "2"]), "replicas");
  assert.equal(key(["--policy", "belady"]), "policy");
  assert.equal(key(["--provider", "tpu"]), "provider");

  // Budgets that hold no expert are known once the model is open: before any worker starts.
  for (const [flag, name] of [
    ["--device-budget", "deviceBudget"],
    ["--host-budget", "hostBudget"],
  ] as const) {
    await assert.rejects(ExpertShard.create(parseShardConfig([flag, String(EXPERT_BYTES - 1)], {})), (error: ConfigError) => {
      assert.equal(error.key, name);
      assert.match(error.message, new RegExp(`${EXPERT_BYTES - 1} bytes, less than one expert \\(${EXPERT_BYTES} bytes\\)`));
      return true;
    });
  }
  await assert.rejects(ExpertShard.create(parseShardConfig(["--model", "/nonexistent/model"], {})), (error: ConfigError) => {
    assert.equal(error.key, "model");
    assert.match(error.message, /\/nonexistent\/model/);
    return true;
  });
  // A quarter of the experts each; 1% of them is less than one expert.
  const quarter = (L * E) / 4;
  await assert.rejects(
    ExpertShard.create(parseShardConfig(["--shards", "4", "--device-budget", "1%"], {})),
    new RegExp(`shard 0 owns ${quarter} experts`),
  );
});

test("a device budget below the policy's minimum is refused at start, naming the minimum", async () => {
  // 8 shards own L*E/8 experts each; 12.5 % of them is one slot, and expertflow needs 2.
  const owned = (L * E) / 8;
  const flags = ["--shards", "8", "--device-budget", `${100 / owned}%`];
  await assert.rejects(ExpertShard.create(parseShardConfig([...flags, "--policy", "expertflow"], {})), (error: ConfigError) => {
    assert.equal(error.key, "deviceBudget");
    assert.match(
      error.message,
      new RegExp(
        `holds 1 expert of ${EXPERT_BYTES} bytes on shard 0 \\(${owned} owned\\); policy expertflow needs at least 2 \\(${2 * EXPERT_BYTES} bytes`,
      ),
    );
    return true;
  });
  const lru = await ExpertShard.create(parseShardConfig([...flags, "--policy", "lru"], {}));
  assert.equal(lru.store.deviceSlots, 1);
  await lru.close();
});

test("a share resolves against the experts this shard owns", async () => {
  const shard = await startShard(["--shards", "2", "--shard-id", "1", "--device-budget", "25%"]);
  try {
    const snapshot = shard.shard.snapshot();
    const owned = (L * E) / 2;
    assert.equal(snapshot.owned.length, owned);
    assert.equal(snapshot.deviceSlots, Math.floor(owned / 4));
    assert.equal(snapshot.deviceBudgetBytes, Math.floor(owned / 4) * EXPERT_BYTES);
    assert.ok(snapshot.owned.every(([layer, expert]) => (layer * E + expert) % 2 === 1));
  } finally {
    await shard.drain();
  }
});
