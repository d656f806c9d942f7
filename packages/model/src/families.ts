// The tiny golden checkpoints of every supported family (packages/model/fixtures/families/<family>/),
// written by models/sotu-moe/family_fixtures.py from the Hugging Face modeling code.
import { fileURLToPath } from "node:url";

export const FAMILY_FIXTURES_DIR = fileURLToPath(new URL("../fixtures/families/", import.meta.url));

/** One fixture per family; kimi_k2 is the DeepSeek-V3 architecture under Kimi-K2's model_type. */
export const FAMILY_FIXTURES = ["qwen3_moe", "qwen2_moe", "olmoe", "deepseek_v3", "kimi_k2"] as const;
export type FamilyFixture = (typeof FAMILY_FIXTURES)[number];
