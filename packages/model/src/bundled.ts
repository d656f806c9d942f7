import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The model bundled with the repository (models/sotu-moe). */
export const BUNDLED_MODEL_DIR = resolve(join(dirname(fileURLToPath(import.meta.url)), "../../../models/sotu-moe"));
