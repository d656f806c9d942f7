// expertmesh generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--json]
import { generate, TextTokenizer } from "@expertmesh/model";
import { isNonNegativeInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { TLS_FLAGS, tlsFromFlags } from "../tls-flags.js";
import { generateRemote } from "./generate-remote.js";

export async function generateCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
    target: { type: "string" },
    stop: { type: "string", multiple: true },
    timeout: { type: "string" },
    ...TLS_FLAGS,
  });
  if (v.prompt === undefined) throw new UsageError("--prompt is required");
  const maxTokens = numberFlag("max-tokens", v["max-tokens"], 64, (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
  const temperature = numberFlag("temperature", v.temperature, 0, (x) => x >= 0, "a number >= 0");
  const topP = numberFlag("top-p", v["top-p"], 1, (x) => x > 0 && x <= 1, "a number in (0, 1]");
  const seed = numberFlag("seed", v.seed, 0, isNonNegativeInt, "a non-negative integer");

  if (v.target === undefined) {
    // Flags of the remote form only: an error here rather than silently ignored.
    const remoteOnly = ["stop", "timeout", ...Object.keys(TLS_FLAGS)].filter((f) => v[f as keyof typeof v] !== undefined);
    if (remoteOnly.length)
      throw new UsageError(
        `${remoteOnly.map((f) => `--${f}`).join(", ")} ${remoteOnly.length > 1 ? "apply" : "applies"} to --target (a running mesh) only`,
      );
  }
  if (v.target !== undefined) {
    const timeoutMs = numberFlag("timeout", v.timeout, 120, (x) => x > 0, "a number of seconds > 0") * 1000;
    return generateRemote({
      target: v.target,
      prompt: v.prompt,
      maxTokens,
      temperature,
      topP,
      seed,
      stop: v.stop ?? [],
      json: !!v.json,
      timeoutMs,
      tls: tlsFromFlags(v),
    });
  }
  const rt = await loadModel(v);
  try {
    const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
    const prompt = tok.encodePrompt(v.prompt);
    let printed = "";
    const streamed: number[] = [];
    const result = await generate(rt, [prompt], {
      maxTokens,
      temperature,
      topP,
      seed,
      onToken: v.json
        ? undefined
        : (_, t) => {
            streamed.push(t);
            const text = tok.decode(streamed);
            if (!text.endsWith("\uFFFD")) {
              process.stdout.write(text.slice(printed.length));
              printed = text;
            }
          },
    });
    const text = tok.decode(result.tokens[0]);
    if (!v.json) {
      process.stdout.write(text.slice(printed.length) + "\n");
      return;
    }
    const completion = result.tokens[0].length;
    console.log(
      JSON.stringify({
        text,
        prompt_tokens: prompt.length,
        completion_tokens: completion,
        tokens: result.tokens[0],
        finish_reason: result.finish[0],
        prefill_ms: round(result.prefillMs),
        decode_ms: round(result.decodeMs),
        prefill_tokens_per_s: round(prompt.length / (result.prefillMs / 1000)),
        // Decode steps feed one sampled token each; the first completion token comes from prefill.
        decode_tokens_per_s: result.decodeSteps ? round(result.decodeSteps / (result.decodeMs / 1000)) : null,
        temperature,
        top_p: topP,
        seed,
      }),
    );
  } finally {
    await rt.release();
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
