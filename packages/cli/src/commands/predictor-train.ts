// expertmesh predictor train --traces FILE... --out FILE.onnx [--model DIR] [--hidden 256] [--epochs 10]
//   [--batch 256] [--learning-rate 0.002] [--token-bias-penalty 0.5] [--position-buckets 10] [--seed 1]
//   [--heldout-traces FILE...] [--json]
//
// Trains the routing-path predictor (packages/moe predictor-mlp.ts, predictor-train.ts) on routing traces
// of training text: an MLP over the routed model's own token embedding and the token's position bucket,
// with BCE against the true top-k of every layer, then a per-token logit correction; exports it as an
// ONNX predictor model (services/predictor mlp-model.ts) for the predictor service. The embedding is read
// from --model (default: the bundled model) and scaled to unit RMS (the MLP's input scale; the scaled copy
// is what the ONNX file holds). --heldout-traces only reports the loss on other traces; it never trains.
//
// Letters (glossary: docs/ARCHITECTURE.md): V vocabulary, D embedding size, H hidden units, P position buckets
// (the predictor's meanings), L MoE layers, E experts.
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { BUNDLED_MODEL_DIR, Checkpoint, buildMlpPredictorModel } from "@expertmesh/model";
import { DEFAULT_POSITION_BUCKETS, fitTokenBias, mlpLoss, routingExamples, trainMlp, type TokenEmbedding } from "@expertmesh/moe";
import { isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { progress } from "../progress.js";
import { readTraces, takeList } from "./predictor-traces.js";

export async function trainCommand(argv: string[]): Promise<void> {
  const [traceFiles, afterTraces] = takeList(argv, "--traces");
  const [heldoutFiles, rest] = takeList(afterTraces, "--heldout-traces", { optional: true });
  const v = parseFlags(rest, {
    out: { type: "string" },
    model: { type: "string" },
    hidden: { type: "string" },
    epochs: { type: "string" },
    batch: { type: "string" },
    "learning-rate": { type: "string" },
    "token-bias-penalty": { type: "string" },
    "position-buckets": { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
  });
  if (v.out === undefined) throw new UsageError("--out is required (the predictor .onnx file to write)");
  const positive = (x: number) => x > 0 && Number.isFinite(x);
  const hidden = numberFlag("hidden", v.hidden, 256, isPositiveInt, "a positive integer");
  const epochs = numberFlag("epochs", v.epochs, 10, isPositiveInt, "a positive integer");
  const batch = numberFlag("batch", v.batch, 256, isPositiveInt, "a positive integer");
  const learningRate = numberFlag("learning-rate", v["learning-rate"], 2e-3, positive, "a positive number");
  const penalty = numberFlag("token-bias-penalty", v["token-bias-penalty"], 0.5, positive, "a positive number");
  const buckets = numberFlag(
    "position-buckets",
    v["position-buckets"],
    DEFAULT_POSITION_BUCKETS,
    (x) => isPositiveInt(x) && x <= 32,
    "an integer in 1..32",
  );
  const seed = numberFlag("seed", v.seed, 1, isNonNegativeInt, "a non-negative integer");

  const traces = readTraces(traceFiles).map((t) => t.trace);
  const heldout = heldoutFiles.length === 0 ? [] : readTraces(heldoutFiles).map((t) => t.trace);
  const modelDir = v.model ?? BUNDLED_MODEL_DIR;
  const embedding = modelEmbedding(modelDir);
  const first = traces[0];
  for (const t of heldout) {
    if (t.numLayers !== first.numLayers || t.numExperts !== first.numExperts || t.topK !== first.topK) {
      throw new UsageError(
        `--heldout-traces: L=${t.numLayers} E=${t.numExperts} k=${t.topK}, the training traces have L=${first.numLayers} E=${first.numExperts} k=${first.topK}`,
      );
    }
  }
  for (const [i, t] of [...traces, ...heldout].entries()) {
    const bad = t.tokenIds.find((id) => id >= embedding.vocab);
    if (bad !== undefined)
      throw new UsageError(
        `trace ${i}: token id ${bad} is outside ${modelDir}'s vocabulary [0, ${embedding.vocab}): traces of another model?`,
      );
  }

  const t0 = performance.now();
  progress.stage("building the training examples");
  const examples = routingExamples(traces, buckets);
  const heldoutExamples = heldout.length === 0 ? undefined : routingExamples(heldout, buckets);
  const epochLog: { epoch: number; loss: number; heldout_loss?: number }[] = [];
  progress.stage("training");
  const { model } = trainMlp(embedding, examples, {
    hidden,
    epochs,
    batch,
    learningRate,
    seed,
    onEpoch: (epoch, loss, m) => {
      const entry = { epoch, loss, ...(heldoutExamples ? { heldout_loss: mlpLoss(m, heldoutExamples) } : {}) };
      epochLog.push(entry);
      const held = entry.heldout_loss === undefined ? "" : `, held-out ${entry.heldout_loss.toFixed(4)}`;
      progress.count(epoch + 1, epochs, `epochs, BCE ${loss.toFixed(4)}${held}`);
    },
  });
  const mlpOnly = { loss: mlpLoss(model, examples), heldout_loss: heldoutExamples && mlpLoss(model, heldoutExamples) };
  fitTokenBias(model, examples, penalty);
  const final = { loss: mlpLoss(model, examples), heldout_loss: heldoutExamples && mlpLoss(model, heldoutExamples) };
  const seconds = (performance.now() - t0) / 1000;

  const source = traceFiles.map((f) => basename(f)).join(", ");
  const onnx = buildMlpPredictorModel(model, { traceTokens: examples.tokens, source });
  writeFileSync(v.out, onnx);
  const summary = {
    out: v.out,
    kind: "mlp",
    bytes: onnx.length,
    trace_tokens: examples.tokens,
    examples: examples.tokenIds.length,
    traces: traceFiles,
    heldout_traces: heldoutFiles,
    model: modelDir,
    num_layers: model.numLayers,
    num_experts: model.numExperts,
    top_k: model.topK,
    vocab: model.vocab,
    embedding_dim: model.dim,
    hidden,
    position_buckets: buckets,
    epochs,
    batch,
    learning_rate: learningRate,
    token_bias_penalty: penalty,
    seed,
    epoch_log: epochLog,
    mlp_only: mlpOnly,
    final,
    seconds,
  };
  if (v.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  const held = (x: number | undefined) => (x === undefined ? "" : `, held-out ${x.toFixed(4)}`);
  console.log(
    `${v.out}: mlp predictor (${(onnx.length / 1e6).toFixed(1)} MB), ${examples.tokens} trace tokens (${examples.tokenIds.length} distinct token/position-bucket examples), ${seconds.toFixed(1)} s`,
  );
  console.log(
    `  BCE: MLP ${mlpOnly.loss.toFixed(4)}${held(mlpOnly.heldout_loss)}; with token bias ${final.loss.toFixed(4)}${held(final.heldout_loss)}`,
  );
}

/** The model's token embedding [V, D], scaled to unit RMS. */
function modelEmbedding(dir: string): TokenEmbedding {
  let ckpt: Checkpoint;
  try {
    ckpt = Checkpoint.open(dir);
  } catch (e) {
    throw new UsageError(`--model ${dir}: ${(e as Error).message}`);
  }
  const { vocabSize: V, hiddenSize: D } = ckpt.config;
  const data = ckpt.tensor(ckpt.adapter.embedTokens, [V, D]);
  let sum = 0;
  for (const x of data) sum += x * x;
  const scale = 1 / Math.sqrt(sum / data.length || 1);
  return { vocab: V, dim: D, data: data.map((x) => x * scale) };
}
