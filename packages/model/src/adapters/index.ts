import { ConfigError } from "../errors.js";
import type { FamilyAdapter } from "./adapter.js";
import { mixtralAdapter } from "./mixtral.js";

export type { FamilyAdapter, ExpertWeight, AttentionWeight } from "./adapter.js";

const ADAPTERS: readonly FamilyAdapter[] = [mixtralAdapter];

export function adapterFor(architecture: string, file = "config.json"): FamilyAdapter {
  const a = ADAPTERS.find((x) => x.architecture === architecture);
  if (!a) throw new ConfigError(file, "architectures", `no adapter for ${JSON.stringify(architecture)}`);
  return a;
}
