// A checkpoint's calibrated online dynamic pruning (MC-MoE ODP, @expertmesh/moe dynamic-pruning), read from
// config.json; the runtime applies it wherever the checkpoint runs (in process, or the mesh's router):
//
//   "dynamic_pruning": {"method": "mc_moe_odp", "beta": [β_0, ..., β_{L-1}], "protect_share": 0.1,
//                       "protect_score": "reference"}      ("l1" or "reference", see @expertmesh/moe; absent: "l1")
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROTECT_SCORES, type DynamicPruning, type ProtectScore } from "@expertmesh/moe";
import { ConfigError } from "./errors.js";

export const ODP_KEY = "dynamic_pruning";
export const ODP_METHOD = "mc_moe_odp";

export function readDynamicPruning(dir: string, numLayers: number): DynamicPruning | null {
  const file = join(dir, "config.json");
  const raw = (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)[ODP_KEY] as Record<string, unknown> | undefined;
  if (raw == null) return null;
  if (raw.method !== ODP_METHOD)
    throw new ConfigError(file, `${ODP_KEY}.method`, `unsupported ${JSON.stringify(raw.method)} (supported: ${ODP_METHOD})`);
  const beta = raw.beta;
  if (!Array.isArray(beta) || beta.length !== numLayers || beta.some((b) => typeof b !== "number" || !(b >= 0 && b <= 1))) {
    throw new ConfigError(file, `${ODP_KEY}.beta`, `must be ${numLayers} numbers in [0, 1]`);
  }
  const share = raw.protect_share;
  if (typeof share !== "number" || !(share >= 0 && share <= 1))
    throw new ConfigError(file, `${ODP_KEY}.protect_share`, `must be a number in [0, 1], got ${JSON.stringify(share)}`);
  const score = raw.protect_score ?? "l1";
  if (!PROTECT_SCORES.includes(score as ProtectScore))
    throw new ConfigError(file, `${ODP_KEY}.protect_score`, `must be one of ${PROTECT_SCORES.join(", ")}, got ${JSON.stringify(score)}`);
  return { beta: beta as number[], protectShare: share, protectScore: score as ProtectScore };
}
