// Prefetch: checks the layer and that every expert is owned (NOT_FOUND otherwise), then queues the
// loads and answers at once: which were queued, which were already resident, which were dropped
// (low priority, queue full). High priority goes ahead of low and is never dropped.

import { InvalidArgumentError } from "@expertmesh/runtime";
import { PrefetchPriority, type PrefetchRequest, type PrefetchResponse } from "@expertmesh/proto";
import type { ExpertShard } from "./shard.js";

export function prefetch(shard: ExpertShard) {
  return (request: PrefetchRequest): PrefetchResponse => {
    shard.checkLayer(request.layer);
    if (request.priority === PrefetchPriority.UNRECOGNIZED || !(request.priority in PrefetchPriority)) {
      throw new InvalidArgumentError("priority", `unknown priority: expected one of LOW, HIGH, got ${request.priority}`, {
        limit: "PREFETCH_PRIORITY_LOW|PREFETCH_PRIORITY_HIGH",
        value: request.priority,
      });
    }
    const keys = new Map<number, number>(); // expert id → key, first occurrence wins
    request.expertIds.forEach((id, i) => {
      if (!keys.has(id)) keys.set(id, shard.checkOwned(request.layer, id, `expert_ids[${i}]`));
    });
    const high = request.priority === PrefetchPriority.PREFETCH_PRIORITY_HIGH;
    const response: PrefetchResponse = { queuedExpertIds: [], residentExpertIds: [], droppedExpertIds: [] };
    for (const [id, key] of keys) {
      const outcome = shard.prefetch(key, high);
      if (outcome === "queued") response.queuedExpertIds.push(id);
      else if (outcome === "resident") response.residentExpertIds.push(id);
      else response.droppedExpertIds.push(id);
    }
    return response;
  };
}
