// Online dynamic pruning settings for a checkpoint (MC-MoE ODP): per layer, β_l is the quantile of the
// calibration tokens' w2 / w1 at the target share, so that about that share of (unprotected) tokens skip
// their second expert. Written into a copy of the checkpoint's directory (config.json dynamic_pruning,
// see packages/model/src/dynamic-pruning-config.ts); the tensors are copied as they are, so this applies on
// top of quantised or merged checkpoints too.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { calibrateBeta, PROTECT_SCORES, type DynamicPruning, type ProtectScore } from "@expertmesh/moe";
import type { Calibration } from "./calibrate.js";
import { CompressError } from "./checkpoint-write.js";

export const DEFAULT_PROTECT_SHARE = 0.1; // MC-MoE's reference code: tau_h = 0.1

/** MC-MoE's reference code's protection score (see @expertmesh/moe dynamic-pruning). */
export const DEFAULT_PROTECT_SCORE: ProtectScore = "reference";

export function calibrateDynamicPruning(
  cal: Calibration,
  target: number,
  protectShare = DEFAULT_PROTECT_SHARE,
  protectScore: ProtectScore = DEFAULT_PROTECT_SCORE,
): DynamicPruning {
  if (!PROTECT_SCORES.includes(protectScore))
    throw new CompressError(`--protect-score must be one of ${PROTECT_SCORES.join(", ")}, got ${JSON.stringify(protectScore)}`);
  if (!(target > 0 && target < 1)) throw new CompressError(`--target must be a share in (0, 1), got ${target}`);
  if (!(protectShare >= 0 && protectShare <= 1)) throw new CompressError(`--protect-share must be in [0, 1], got ${protectShare}`);
  if (cal.stats.topK < 2)
    throw new CompressError(`dynamic pruning skips second experts: the model routes each token to ${cal.stats.topK} expert`);
  return { beta: cal.secondOverFirst.map((r) => Math.min(1, calibrateBeta(r, target))), protectShare, protectScore };
}

export function writeDynamicPruningCheckpoint(srcDir: string, outDir: string, odp: DynamicPruning): void {
  if (resolve(outDir) === resolve(srcDir)) throw new CompressError(`--out ${outDir} is the source model directory; choose another`);
  mkdirSync(outDir, { recursive: true });
  for (const name of readdirSync(srcDir)) {
    const from = join(srcDir, name);
    if (name !== "config.json" && statSync(from).isFile()) copyFileSync(from, join(outDir, name));
  }
  const config = JSON.parse(readFileSync(join(srcDir, "config.json"), "utf8")) as Record<string, unknown>;
  const dynamic_pruning = {
    method: "mc_moe_odp",
    beta: odp.beta,
    protect_share: odp.protectShare,
    protect_score: odp.protectScore ?? "l1",
  };
  writeFileSync(join(outDir, "config.json"), JSON.stringify({ ...config, dynamic_pruning }, null, 2) + "\n");
}
