// The registry of model families. The supported-architectures list is derived from it.
import type { MoeConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { FamilyAdapter } from "./adapter.js";
import { ConfigReader } from "./config-reader.js";
import { deepseekV3Adapter } from "./deepseek-v3.js";
import { mixtralAdapter } from "./mixtral.js";
import { olmoeAdapter } from "./olmoe.js";
import { qwen2MoeAdapter } from "./qwen2-moe.js";
import { qwen3MoeAdapter } from "./qwen3-moe.js";

export type { FamilyAdapter, ExpertWeight } from "./adapter.js";
export { MLA_NORM_EPS } from "./deepseek-v3.js";

const ADAPTERS: readonly FamilyAdapter[] = [mixtralAdapter, qwen3MoeAdapter, qwen2MoeAdapter, olmoeAdapter, deepseekV3Adapter];

/** Architectures with an adapter. */
export const SUPPORTED_ARCHITECTURES: readonly string[] = Object.freeze(ADAPTERS.map((a) => a.architecture));

function unsupported(file: string, what: string): ConfigError {
  return new ConfigError(file, "architectures", `unsupported architecture ${what} (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
}

export function adapterFor(architecture: string, file = "config.json"): FamilyAdapter {
  const a = ADAPTERS.find((x) => x.architecture === architecture);
  if (!a) throw unsupported(file, JSON.stringify(architecture));
  return a;
}

/** The adapter of a raw config: `architectures[0]`, or else the `model_type` an adapter accepts. */
export function adapterOf(raw: Record<string, unknown>, file = "config.json"): FamilyAdapter {
  const archs = raw.architectures;
  if (Array.isArray(archs) && typeof archs[0] === "string") return adapterFor(archs[0], file);
  const byType = ADAPTERS.find((a) => a.modelTypes.includes(String(raw.model_type)));
  if (!byType) throw unsupported(file, `(no architectures; model_type ${JSON.stringify(raw.model_type ?? null)})`);
  return byType;
}

export function parseFamilyConfig(raw: Record<string, unknown>, file: string): MoeConfig {
  const adapter = adapterOf(raw, file);
  const body = adapter.config(new ConfigReader(raw, file, adapter.architecture));
  return {
    architecture: adapter.architecture,
    modelType: typeof raw.model_type === "string" ? raw.model_type : adapter.modelTypes[0],
    ...body,
  };
}
