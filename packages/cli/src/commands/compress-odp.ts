// expertmesh compress odp --model DIR --target S --out DIR [--protect-share P] [--protect-score reference|l1]
//   [--traces T... | --text FILE]
//   [--max-tokens N] [--json]
// MC-MoE's online dynamic pruning: per layer a threshold β on w2 / w1, calibrated on the training split so
// that a share S of the tokens skip their second expert (the top P of each prefill's tokens by importance
// keep both; --protect-score: MC-MoE's reference-code score, the L1 norm over n - i, or the L1 norm alone). Writes a copy of the checkpoint whose config.json carries the thresholds; the runtime and the
// mesh apply them wherever it runs.
import {
  calibrate,
  calibrateDynamicPruning,
  CompressError,
  DEFAULT_PROTECT_SCORE,
  DEFAULT_PROTECT_SHARE,
  writeDynamicPruningCheckpoint,
} from "@expertmesh/compress";
import { PROTECT_SCORES, type ProtectScore } from "@expertmesh/moe";
import { numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { calibrationFlags, calibrationTokens } from "./compress-text.js";

export async function compressOdpCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    ...calibrationFlags,
    target: { type: "string" },
    "protect-share": { type: "string" },
    "protect-score": { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
  });
  if (v.out === undefined) throw new UsageError("--out is required");
  if (v.target === undefined) throw new UsageError("--target is required (the share of tokens that skip their second expert)");
  const target = numberFlag("target", v.target, 0, (x) => x > 0 && x < 1, "a share in (0, 1)");
  const protect = numberFlag("protect-share", v["protect-share"], DEFAULT_PROTECT_SHARE, (x) => x >= 0 && x <= 1, "a share in [0, 1]");
  const score = (v["protect-score"] ?? DEFAULT_PROTECT_SCORE) as ProtectScore;
  if (!PROTECT_SCORES.includes(score))
    throw new UsageError(`--protect-score must be one of ${PROTECT_SCORES.join(", ")}, got ${JSON.stringify(v["protect-score"])}`);
  const rt = await loadModel(v);
  try {
    let odp;
    let source;
    try {
      const tokens = calibrationTokens(rt, v);
      source = tokens.source;
      odp = calibrateDynamicPruning(await calibrate(rt, tokens.sequences, { samplesPerExpert: 0 }), target, protect, score);
      writeDynamicPruningCheckpoint(rt.checkpoint.dir, v.out, odp);
    } catch (e) {
      if (e instanceof CompressError) throw new UsageError(e.message);
      throw e;
    }
    if (v.json) {
      console.log(
        JSON.stringify({
          model: rt.checkpoint.dir,
          out: v.out,
          source,
          target,
          protect_share: odp.protectShare,
          protect_score: odp.protectScore,
          beta: odp.beta,
        }),
      );
      return;
    }
    console.log(
      `${v.out}: dynamic pruning, target ${target} of tokens, protecting ${odp.protectShare} of each prefill (calibrated on ${source})`,
    );
    console.log(`  beta per layer: ${odp.beta.map((b) => b.toFixed(3)).join(" ")}`);
  } finally {
    await rt.release();
  }
}
