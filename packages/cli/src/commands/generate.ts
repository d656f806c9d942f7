// expertmesh generate (--prompt TEXT | --prompts-file FILE) [--model DIR] [--max-tokens N] [--temperature T]
//   [--top-p P] [--seed S] [--json]; with --target HOST:PORT the same through a running mesh.
// --prompts-file batches several prompts (one a line, blank lines skipped): in process they run as one batch,
// through a mesh as concurrent streams that the router batches.
import { readFileSync } from "node:fs";
import { generate, TextTokenizer } from "@expertmesh/model";
import { fileFlagError, isNonNegativeInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { TLS_FLAGS, tlsFromFlags } from "../tls-flags.js";
import { generateRemote, generateRemoteBatch } from "./generate-remote.js";

/** Prompts of one --prompts-file at most (in process they are one batch). */
export const MAX_PROMPTS_PER_FILE = 256;

export async function generateCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    prompt: { type: "string" },
    "prompts-file": { type: "string" },
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
  if ((v.prompt === undefined) === (v["prompts-file"] === undefined))
    throw new UsageError("give one of --prompt TEXT or --prompts-file FILE (one prompt a line)");
  const prompts = v["prompts-file"] === undefined ? undefined : readPrompts(v["prompts-file"]);
  const maxTokens = numberFlag("max-tokens", v["max-tokens"], 64, (x) => Number.isInteger(x) && x >= 1, "an integer >= 1");
  const temperature = numberFlag("temperature", v.temperature, 0, (x) => x >= 0, "a number >= 0");
  const topP = numberFlag("top-p", v["top-p"], 1, (x) => x > 0 && x <= 1, "a number in (0, 1]");
  const seed = numberFlag("seed", v.seed, 0, isNonNegativeInt, "a non-negative integer");

  // Flags of the other form: an error rather than silently ignored.
  const otherForm = (v.target === undefined ? ["stop", "timeout", ...Object.keys(TLS_FLAGS)] : Object.keys(modelFlags)).filter(
    (f) => v[f as keyof typeof v] !== undefined,
  );
  if (otherForm.length) {
    const flags = `${otherForm.map((f) => `--${f}`).join(", ")} ${otherForm.length > 1 ? "apply" : "applies"}`;
    throw new UsageError(
      v.target === undefined
        ? `${flags} to --target (a running mesh) only`
        : `${flags} to in-process generate only (the mesh at --target serves its own model)`,
    );
  }
  if (v.target !== undefined) {
    const remote = {
      target: v.target,
      maxTokens,
      temperature,
      topP,
      seed,
      stop: v.stop ?? [],
      json: !!v.json,
      timeoutMs: numberFlag("timeout", v.timeout, 120, (x) => x > 0, "a number of seconds > 0") * 1000,
      tls: tlsFromFlags(v),
    };
    return prompts ? generateRemoteBatch({ ...remote, prompts }) : generateRemote({ ...remote, prompt: v.prompt! });
  }
  const rt = await loadModel(v);
  try {
    const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
    if (prompts) {
      const encoded = prompts.map((p) => tok.encodePrompt(p));
      const result = await generate(rt, encoded, { maxTokens, temperature, topP, seed });
      const completions = prompts.map((prompt, i) => ({
        index: i,
        prompt,
        text: tok.decode(result.tokens[i]),
        tokens: result.tokens[i],
        prompt_tokens: encoded[i].length,
        completion_tokens: result.tokens[i].length,
        finish_reason: result.finish[i],
      }));
      if (!v.json) {
        for (const c of completions) console.log(`[${c.index + 1}/${completions.length}] ${c.text}`);
        return;
      }
      const generated = completions.reduce((n, c) => n + c.completion_tokens, 0);
      console.log(
        JSON.stringify({
          completions,
          prefill_ms: round(result.prefillMs),
          decode_ms: round(result.decodeMs),
          // One batch: every decode step advances each running sequence by one token.
          decode_tokens_per_s: result.decodeMs > 0 ? round((generated - completions.length) / (result.decodeMs / 1000)) : null,
          temperature,
          top_p: topP,
          seed,
        }),
      );
      return;
    }
    const prompt = tok.encodePrompt(v.prompt!);
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

/** The prompts of a --prompts-file: one a line, blank lines skipped; at least 1, at most MAX_PROMPTS_PER_FILE. */
function readPrompts(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw fileFlagError("--prompts-file", file, e);
  }
  const prompts = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (prompts.length === 0) throw new UsageError(`--prompts-file ${file}: no prompts (one prompt a line, blank lines skipped)`);
  if (prompts.length > MAX_PROMPTS_PER_FILE)
    throw new UsageError(`--prompts-file ${file}: ${prompts.length} prompts, at most ${MAX_PROMPTS_PER_FILE}`);
  return prompts;
}

const round = (x: number) => Math.round(x * 100) / 100;
