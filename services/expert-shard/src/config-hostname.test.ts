// In a StatefulSet the shard id is the pod's ordinal, read from the hostname (expert-shard-2 → 2).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "@expertmesh/runtime";
import { ordinalFromHostname, parseShardConfig } from "./config.js";

test("the shard id comes from the trailing -N of HOSTNAME when asked, by env or flag, over --shard-id", () => {
  const env = { EXPERTMESH_SHARD_ID_FROM_HOSTNAME: "true", EXPERTMESH_SHARD_SHARDS: "3", HOSTNAME: "expert-shard-2" };
  assert.equal(parseShardConfig([], env).shardId, 2);
  assert.equal(parseShardConfig(["--shard-id", "0"], env).shardId, 2);
  assert.equal(parseShardConfig(["--shard-id-from-hostname", "--shards", "12"], { HOSTNAME: "my-mesh-expert-shard-11" }).shardId, 11);
  assert.equal(parseShardConfig(["--shard-id", "1", "--shards", "3"], { HOSTNAME: "expert-shard-2" }).shardId, 1, "off by default");
  assert.ok(Object.isFrozen(parseShardConfig([], env)));
  assert.equal(ordinalFromHostname("expert-shard-0"), 0);
});

test("a hostname without an ordinal, or an ordinal beyond the shard count, fails naming the hostname", () => {
  const fails = (env: Record<string, string>, key: string, pattern: RegExp) =>
    assert.throws(
      () => parseShardConfig(["--shard-id-from-hostname"], env),
      (e: ConfigError) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.key, key);
        assert.match(e.message, pattern);
        return true;
      },
    );
  fails({ HOSTNAME: "expert-shard" }, "shardIdFromHostname", /hostname "expert-shard" does not end in -<ordinal>/);
  fails({ HOSTNAME: "laptop.local" }, "shardIdFromHostname", /hostname "laptop\.local"/);
  fails(
    { HOSTNAME: "expert-shard-3", EXPERTMESH_SHARD_SHARDS: "3" },
    "shardId",
    /3 \(the ordinal of hostname "expert-shard-3"\) is not below shards \(3\)/,
  );
});

test("--advertise is the address published for routers; unset by default", () => {
  assert.equal(parseShardConfig([], {}).advertise, undefined);
  assert.equal(
    parseShardConfig([], { EXPERTMESH_SHARD_ADVERTISE: "expert-shard-0.expert-shard.ns.svc:50061" }).advertise,
    "expert-shard-0.expert-shard.ns.svc:50061",
  );
});
