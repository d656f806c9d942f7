// The in-process runtime as the reference that the mesh must reproduce token for token.
import { BUNDLED_MODEL_DIR, generate, MoeRuntime, TextTokenizer } from "@expertmesh/model";

export const PROMPTS = [
  "The state of the Union is",
  "Fellow-Citizens of the Senate and House of Representatives:",
  "We must never forget that",
];

let runtime: Promise<{ rt: MoeRuntime; tok: TextTokenizer }> | undefined;

function load() {
  return (runtime ??= (async () => {
    const rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
    return { rt, tok: TextTokenizer.load(BUNDLED_MODEL_DIR, rt.config) };
  })());
}

/** Greedy completion token ids of `prompt`, computed in this process. */
export async function referenceTokens(prompt: string, maxTokens: number): Promise<number[]> {
  const { rt, tok } = await load();
  const r = await generate(rt, [tok.encodePrompt(prompt)], { maxTokens });
  return r.tokens[0];
}

export async function releaseReference(): Promise<void> {
  if (runtime) await (await runtime).rt.release();
  runtime = undefined;
}
