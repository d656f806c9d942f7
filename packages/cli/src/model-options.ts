// Flags that choose and load a model: --model DIR (default: the bundled model), --threads, --provider.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MoeRuntime, type ExecutionProvider } from "@expertmesh/model";
import { numberFlag, isPositiveInt, UsageError } from "./args.js";

export const BUNDLED_MODEL = resolve(join(dirname(fileURLToPath(import.meta.url)), "../../../models/sotu-moe"));

export const modelFlags = {
  model: { type: "string" },
  threads: { type: "string" },
  provider: { type: "string" },
} as const;

export async function loadModel(values: { model?: string; threads?: string; provider?: string }): Promise<MoeRuntime> {
  const threads = numberFlag("threads", values.threads, 1, isPositiveInt, "a positive integer");
  const provider = (values.provider ?? "cpu") as ExecutionProvider;
  if (provider !== "cpu" && provider !== "cuda") throw new UsageError(`--provider must be cpu or cuda, got ${JSON.stringify(provider)}`);
  return MoeRuntime.load(values.model ?? BUNDLED_MODEL, { session: { threads, executionProvider: provider } });
}
