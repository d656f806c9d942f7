// The registry of families that `expertmesh synth` can write: one line per family.
import { InvalidInputError } from "../errors.js";
import type { SynthFamily } from "./synth-family.js";
import { deepseekV3Synth } from "./synth-deepseek-v3.js";
import { mixtralSynth } from "./synth-mixtral.js";
import { olmoeSynth, qwen2MoeSynth, qwen3MoeSynth } from "./synth-qwen-olmoe.js";

export const SYNTH_FAMILIES: readonly SynthFamily[] = [mixtralSynth, qwen3MoeSynth, qwen2MoeSynth, olmoeSynth, deepseekV3Synth];

/** The family named by --family, else the one of a --config-like config's architecture, else Mixtral. */
export function synthFamily(name?: string, architecture?: string): SynthFamily {
  if (name !== undefined) {
    const f = SYNTH_FAMILIES.find((x) => x.name === name);
    if (!f)
      throw new InvalidInputError(
        "family",
        `unknown family ${JSON.stringify(name)} (known: ${SYNTH_FAMILIES.map((x) => x.name).join(", ")})`,
      );
    return f;
  }
  if (architecture !== undefined) {
    const f = SYNTH_FAMILIES.find((x) => x.architecture === architecture);
    if (!f) {
      throw new InvalidInputError(
        "config-like",
        `no synth family for architecture ${JSON.stringify(architecture)} (known: ${SYNTH_FAMILIES.map((x) => x.architecture).join(", ")})`,
      );
    }
    return f;
  }
  return mixtralSynth;
}
