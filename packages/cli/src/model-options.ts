// Flags that choose and load a model: --model DIR (default: the bundled model), --threads, --provider.
import { BUNDLED_MODEL_DIR, MoeRuntime, type ExecutionProvider } from "@expertmesh/model";
import { numberFlag, isPositiveInt, UsageError } from "./args.js";

export const modelFlags = {
  model: { type: "string" },
  threads: { type: "string" },
  provider: { type: "string" },
} as const;

export async function loadModel(values: { model?: string; threads?: string; provider?: string }): Promise<MoeRuntime> {
  const threads = numberFlag("threads", values.threads, 1, isPositiveInt, "a positive integer");
  const provider = (values.provider ?? "cpu") as ExecutionProvider;
  if (provider !== "cpu" && provider !== "cuda") throw new UsageError(`--provider must be cpu or cuda, got ${JSON.stringify(provider)}`);
  return MoeRuntime.load(values.model ?? BUNDLED_MODEL_DIR, { session: { threads, executionProvider: provider } });
}
