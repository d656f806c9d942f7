// expertmesh bench runtime [--model DIR] [--batches 1,4,16] [--threads-list 1,2] [--forward fused,seam]
//   [--expert-parts auto,1] [--prompt-tokens P] [--decode-steps N] [--repeats R] [--text FILE]
//   [--provider cpu|cuda] [--json]
//
// The in-process runtime's speed: for each forward path (fused: experts inside the layer graphs; seam:
// experts through the ExpertRunner, as the mesh computes them), batch size B and onnxruntime thread
// count, the prefill of B
// prompts of P tokens in one step (prefill tokens/s = B·P / its time), then N greedy decode steps of the
// B sequences (decode tokens/s = B·N / their time). Prompts are windows of held-out text (the model's, else
// the bundled model's: synth checkpoints share its tokenizer). Each configuration is warmed up once, then
// measured R times in rounds (every configuration once per round, so that noise on this shared machine
// falls on all of them alike); the figures are medians over rounds, and each row carries its ratio to the
// row of the same batch in the first configuration (first path, first thread count), measured in the
// same run. --expert-parts (fused path) lists the slices per expert in the MoE nodes to compare: "auto"
// is the runtime's default (one per thread), 1 the operator's own layout; a thread count's rows repeat
// per distinct value. Beside wall-clock rates, each row gives tokens per second of process CPU time (all threads):
// on a shared machine, where other processes take cores away, that figure moves less.
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences per step, P prompt tokens per sequence, N decode steps,
// R rounds (the bench's meanings).
import {
  BUNDLED_MODEL_DIR,
  Checkpoint,
  expertParts,
  FORWARD_PATHS,
  fusedUnsupported,
  MoeRuntime,
  argmax,
  TextTokenizer,
  type ExecutionProvider,
  type ForwardPathName,
  type Sequence,
} from "@expertmesh/model";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { heldOutText } from "./bench-traces.js";
import { progress } from "../progress.js";

interface Config {
  forward: ForwardPathName;
  threads: number;
  /** Slices per expert on the fused path (expertParts); 1 on the seam path. */
  parts: number;
}

interface Sample {
  decodeTokensPerS: number;
  prefillTokensPerS: number;
  decodeTokensPerCpuS: number;
  prefillTokensPerCpuS: number;
}

/** Keep every configuration's runtime loaded across rounds while their weights fit in this many bytes. */
const RESIDENT_BYTES = 4 * 2 ** 30;

export async function benchRuntimeCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    model: { type: "string" },
    provider: { type: "string" },
    text: { type: "string" },
    batches: { type: "string" },
    "threads-list": { type: "string" },
    forward: { type: "string" },
    "expert-parts": { type: "string" },
    "prompt-tokens": { type: "string" },
    "decode-steps": { type: "string" },
    repeats: { type: "string" },
    json: { type: "boolean" },
  });
  const model = v.model ?? BUNDLED_MODEL_DIR;
  const provider = (v.provider ?? "cpu") as ExecutionProvider;
  if (provider !== "cpu" && provider !== "cuda") throw new UsageError(`--provider must be cpu or cuda, got ${JSON.stringify(provider)}`);
  const batches = intList("batches", v.batches ?? "1,4,16", 1024);
  const threadsList = intList("threads-list", v["threads-list"] ?? "1,2", 256);
  // Default: the path MoeRuntime.load chooses (fused, or seam for models it cannot fuse, e.g. DeepSeek-V3's gate).
  const forwards = (v.forward ?? (fusedUnsupported(Checkpoint.open(model)) ? "seam" : "fused"))
    .split(",")
    .map((x) => x.trim()) as ForwardPathName[];
  if (forwards.some((f) => !FORWARD_PATHS.includes(f)) || new Set(forwards).size !== forwards.length) {
    throw new UsageError(`--forward must be a comma-separated list of ${FORWARD_PATHS.join(", ")}, got ${JSON.stringify(v.forward)}`);
  }
  const P = numberFlag("prompt-tokens", v["prompt-tokens"], 128, (x) => isPositiveInt(x) && x <= 4096, "an integer in [1, 4096]");
  const N = numberFlag("decode-steps", v["decode-steps"], 64, (x) => isPositiveInt(x) && x <= 4096, "an integer in [1, 4096]");
  const R = numberFlag("repeats", v.repeats, 5, (x) => isPositiveInt(x) && x <= 100, "an integer in [1, 100]");
  const checkpoint = Checkpoint.open(model);
  const c = checkpoint.config;
  if (P + N > c.maxPositions)
    throw new UsageError(`--prompt-tokens + --decode-steps must be at most the context length ${c.maxPositions}, got ${P + N}`);
  const log = (line: string) => progress.stage(line.replace(/^bench \w+: /, ""));

  const prompts = heldOutWindows(model, v.text, checkpoint, Math.max(...batches), P);
  const partsList = expertPartsList(v["expert-parts"] ?? "auto", c.intermediateSize);
  const configs: Config[] = forwards.flatMap((forward) =>
    threadsList.flatMap((threads): Config[] => {
      if (forward === "seam") return [{ forward, threads, parts: 1 }];
      const parts = [...new Set(partsList.map((p) => p ?? expertParts(threads, c.intermediateSize)))];
      return parts.map((p) => ({ forward, threads, parts: p }));
    }),
  );
  const weightBytes = approximateWeightBytes(checkpoint);
  const keepLoaded = weightBytes * configs.length <= RESIDENT_BYTES;
  const loaded = new Map<Config, MoeRuntime>();
  const load = async (cfg: Config) =>
    loaded.get(cfg) ??
    MoeRuntime.load(model, {
      forward: cfg.forward,
      session: { threads: cfg.threads, executionProvider: provider },
      ...(cfg.forward === "fused" ? { expertParts: cfg.parts } : {}),
    });
  const done = async (cfg: Config, rt: MoeRuntime) => (keepLoaded ? loaded.set(cfg, rt) : await rt.release());

  const samples = new Map<string, Sample[]>();
  const key = (cfg: Config, B: number) => `${cfg.forward}/${cfg.threads}/${cfg.parts}/${B}`;
  const t0 = performance.now();
  for (let round = -1; round < R; round++) {
    for (const cfg of configs) {
      const rt = await load(cfg);
      for (const B of batches) {
        const s = await measure(rt, prompts.slice(0, B), N);
        if (round < 0) continue; // warm-up
        samples.set(key(cfg, B), [...(samples.get(key(cfg, B)) ?? []), s]);
        log(
          `round ${round + 1}/${R} ${cfg.forward} threads ${cfg.threads} parts ${cfg.parts} batch ${B}: decode ${s.decodeTokensPerS.toFixed(1)} tok/s, prefill ${s.prefillTokensPerS.toFixed(1)} tok/s`,
        );
      }
      await done(cfg, rt);
    }
  }
  for (const rt of loaded.values()) await rt.release();

  const rows = configs.flatMap((cfg) =>
    batches.map((B) => {
      const s = samples.get(key(cfg, B))!;
      const base = samples.get(key(configs[0], B))!;
      const decode = median(s.map((x) => x.decodeTokensPerS));
      const prefill = median(s.map((x) => x.prefillTokensPerS));
      return {
        forward: cfg.forward,
        batch: B,
        threads: cfg.threads,
        expert_parts: cfg.parts,
        decode_tokens_per_s: round1(decode),
        prefill_tokens_per_s: round1(prefill),
        decode_over_baseline: round3(decode / median(base.map((x) => x.decodeTokensPerS))),
        prefill_over_baseline: round3(prefill / median(base.map((x) => x.prefillTokensPerS))),
        decode_tokens_per_cpu_s: round1(median(s.map((x) => x.decodeTokensPerCpuS))),
        prefill_tokens_per_cpu_s: round1(median(s.map((x) => x.prefillTokensPerCpuS))),
        decode_samples: s.map((x) => round1(x.decodeTokensPerS)),
        prefill_samples: s.map((x) => round1(x.prefillTokensPerS)),
      };
    }),
  );
  const params = {
    benchmark: "runtime",
    model: checkpoint.dir,
    parameters: Math.round(weightBytes / 4),
    provider,
    prompt_tokens: P,
    decode_steps: N,
    rounds: R,
    baseline: `${configs[0].forward} path, threads ${configs[0].threads}, expert parts ${configs[0].parts}, same batch`,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  if (v.json) {
    console.log(JSON.stringify({ ...params, rows }));
    return;
  }
  console.log(
    `bench runtime: ${params.model} (${(params.parameters / 1e6).toFixed(1)} M parameters), P=${P} prompt tokens, N=${N} decode steps, medians of ${R} rounds; ratios vs ${params.baseline}`,
  );
  console.log("forward  batch  threads  parts  decode tok/s  (ratio)  prefill tok/s  (ratio)  decode tok/cpu-s  prefill tok/cpu-s");
  for (const r of rows) {
    console.log(
      `${r.forward.padEnd(7)}  ${String(r.batch).padStart(5)}  ${String(r.threads).padStart(7)}  ${String(r.expert_parts).padStart(5)}  ${r.decode_tokens_per_s.toFixed(1).padStart(12)}  ${r.decode_over_baseline.toFixed(2).padStart(7)}` +
        `  ${r.prefill_tokens_per_s.toFixed(1).padStart(13)}  ${r.prefill_over_baseline.toFixed(2).padStart(7)}` +
        `  ${r.decode_tokens_per_cpu_s.toFixed(1).padStart(16)}  ${r.prefill_tokens_per_cpu_s.toFixed(1).padStart(17)}`,
    );
  }
}

/** One prefill of the B prompts in one step, then N greedy decode steps of all B sequences. */
async function measure(rt: MoeRuntime, prompts: number[][], N: number): Promise<Sample> {
  const seqs: Sequence[] = prompts.map(() => rt.newSequence());
  const c0 = cpuSeconds();
  const t0 = performance.now();
  let logits = await rt.step(prompts.map((tokens, b) => ({ sequence: seqs[b], tokens })));
  const t1 = performance.now();
  const c1 = cpuSeconds();
  for (let i = 0; i < N; i++) logits = await rt.step(seqs.map((sequence, b) => ({ sequence, tokens: [argmax(logits[b])] })));
  const t2 = performance.now();
  const c2 = cpuSeconds();
  const B = prompts.length;
  const prefill = B * prompts[0].length;
  return {
    prefillTokensPerS: prefill / ((t1 - t0) / 1000),
    decodeTokensPerS: (B * N) / ((t2 - t1) / 1000),
    prefillTokensPerCpuS: prefill / (c1 - c0),
    decodeTokensPerCpuS: (B * N) / (c2 - c1),
  };
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** `count` windows of exactly P tokens (BOS first when the model has one), spread over held-out text. */
function heldOutWindows(model: string, file: string | undefined, checkpoint: Checkpoint, count: number, P: number): number[][] {
  let source: { text: string; name: string };
  try {
    source = heldOutText(model, file);
  } catch (e) {
    if (file !== undefined || model === BUNDLED_MODEL_DIR) throw e;
    source = heldOutText(BUNDLED_MODEL_DIR, undefined); // a synth checkpoint: the bundled tokenizer's text
  }
  const tok = TextTokenizer.load(checkpoint.dir, checkpoint.config);
  const ids = tok.encode(source.text.slice(0, 2_000_000)).filter((t) => t < checkpoint.config.vocabSize);
  const bos = checkpoint.config.bosTokenId;
  const body = bos == null ? P : P - 1;
  if (ids.length < count * body)
    throw new UsageError(`${source.name}: ${ids.length} tokens, fewer than the ${count} x ${body} that the prompts need`);
  return Array.from({ length: count }, (_, i) => {
    const start = Math.floor((i * (ids.length - body)) / count);
    const w = ids.slice(start, start + body);
    return bos == null ? w : [bos, ...w];
  });
}

function approximateWeightBytes(ckpt: Checkpoint): number {
  const {
    vocabSize: V,
    hiddenSize: D,
    intermediateSize: F,
    numLayers: L,
    numExperts: E,
    numHeads: H,
    numKvHeads: K,
    headDim: Dh,
  } = ckpt.config;
  return 4 * (2 * V * D + L * (3 * E * D * F + D * Dh * (2 * H + 2 * K) + E * D));
}

/** --expert-parts: "auto" (undefined: the runtime's default) or integers that divide F. */
function expertPartsList(raw: string, F: number): (number | undefined)[] {
  const xs = raw.split(",").map((s) => s.trim());
  const ok = (x: string) => x === "auto" || (/^[0-9]+$/.test(x) && Number(x) >= 1 && F % Number(x) === 0);
  if (xs.some((x) => !ok(x)) || new Set(xs).size !== xs.length)
    throw new UsageError(
      `--expert-parts must be a comma-separated list of "auto" and distinct integers that divide the expert hidden size ${F}, got ${JSON.stringify(raw)}`,
    );
  return xs.map((x) => (x === "auto" ? undefined : Number(x)));
}

function intList(flag: string, raw: string, max: number): number[] {
  const xs = raw.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1 || x > max) || new Set(xs).size !== xs.length) {
    throw new UsageError(`--${flag} must be a comma-separated list of distinct integers in [1, ${max}], got ${JSON.stringify(raw)}`);
  }
  return xs;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
