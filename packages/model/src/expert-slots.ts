// The gate-slot map of a merged or pruned checkpoint, read from config.json (see @expertmesh/moe slot-map):
//
//   "expert_slot_map": [[0, 0, 2, -1, ...], ...]   [L][E]: slot e of layer l is computed by the stored
//                                                 expert of slot map[l][e]; -1: pruned (logit masked)
//
// Only the experts of slots that map to themselves are stored. Absent: every slot is its own expert.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "./errors.js";

export const SLOT_MAP_KEY = "expert_slot_map";

export function readExpertSlotMap(dir: string, numLayers: number, numExperts: number): number[][] | null {
  const file = join(dir, "config.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const map = raw[SLOT_MAP_KEY];
  if (map == null) return null;
  if (!Array.isArray(map) || map.length !== numLayers || map.some((row) => !Array.isArray(row) || row.length !== numExperts)) {
    throw new ConfigError(file, SLOT_MAP_KEY, `must be ${numLayers} rows of ${numExperts} slots`);
  }
  (map as unknown[][]).forEach((row, l) => {
    row.forEach((m, e) => {
      if (m === -1) return;
      if (!Number.isInteger(m) || (m as number) < 0 || (m as number) >= numExperts || row[m as number] !== m) {
        throw new ConfigError(
          file,
          SLOT_MAP_KEY,
          `layer ${l} slot ${e} maps to ${JSON.stringify(m)}, which is not -1 nor a slot that maps to itself`,
        );
      }
    });
    if (row.every((m) => m === -1)) throw new ConfigError(file, SLOT_MAP_KEY, `layer ${l} prunes every slot`);
  });
  return map as number[][];
}
