// Which routing-path predictor `up` starts: --predictor FILE (it must predict the model's L x E routes,
// else a usage error before anything starts), --no-predictor, or by default the model directory's
// predictor.onnx when it has one of the right shape. Without one the mesh serves with a warning: no
// prefetch hints, so every policy loads on demand (expertflow keeps its eviction rule but has nothing
// to prefetch from).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readConfig, readPredictorInfo } from "@expertmesh/model";
import { fileFlagError, UsageError } from "../args.js";

export interface PredictorChoice {
  /** The predictor model to serve; undefined: none. */
  file?: string;
  /** Why there is none although the policy could use one. */
  warning?: string;
}

export function choosePredictor(modelDir: string, flag: string | undefined, none: boolean, policy: string): PredictorChoice {
  if (flag !== undefined && none) throw new UsageError("give --predictor FILE or --no-predictor, not both");
  if (none) return {};
  const model = readConfig(modelDir);
  const shape = (file: string) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw fileFlagError("--predictor", file, e);
    }
    return readPredictorInfo(bytes, file);
  };
  const mismatch = (file: string, p: { numLayers: number; numExperts: number }) =>
    `${file} predicts ${p.numLayers} layers x ${p.numExperts} experts, the model in ${modelDir} has ${model.numLayers} x ${model.numExperts}`;
  if (flag !== undefined) {
    const p = shape(flag);
    if (p.numLayers !== model.numLayers || p.numExperts !== model.numExperts) throw new UsageError(`--predictor ${mismatch(flag, p)}`);
    return { file: flag };
  }
  const fallback =
    `serving without route prediction (no prefetch hints${policy === "expertflow" ? "; policy expertflow loads on demand" : ""}). ` +
    `Train one with \`expertmesh trace record\` + \`expertmesh predictor train\` and pass --predictor FILE, or pass --no-predictor to silence this`;
  const own = join(modelDir, "predictor.onnx");
  if (!existsSync(own)) return { warning: `${modelDir} has no predictor.onnx: ${fallback}` };
  const p = shape(own);
  if (p.numLayers !== model.numLayers || p.numExperts !== model.numExperts) return { warning: `${mismatch(own, p)}: ${fallback}` };
  return { file: own };
}
