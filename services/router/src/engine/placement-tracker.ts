// Which shard layout the router dispatches to, learned from NATS heartbeats. Each heartbeat names the
// layout its shard was started with (shards S, replicas R) and the address to dial. A layout is usable
// when every expert has a live owner in it (placement (g + r) mod S, r < R) and every shard id has a
// known address; the router moves to the usable layout with the most shards (then the most replicas),
// so that a mesh grows once all the new shards serve, and falls back to a smaller layout only when the
// larger one stops covering every expert. The starting layout is the static --shards list; it stays in
// use while no heartbeat says otherwise (no NATS: static placement). Every router computes the same choice
// from the same heartbeats, and the Placement of a layout depends on (L, E, S, R) only.
import { Placement } from "@expertmesh/moe";
import type { ShardHeartbeat } from "@expertmesh/proto";

export interface ShardLayout {
  readonly shards: number;
  readonly replicas: number;
  /** Address of shard i at index i. */
  readonly addresses: readonly string[];
}

interface Member {
  address: string;
  lastSeenMs: number;
  intervalMs: number;
  draining: boolean;
}

/** A heartbeat is stale after this many of its intervals without another. */
const STALE_INTERVALS = 3;

export class PlacementTracker {
  private current: ShardLayout;
  /** Members by layout key "S/R", then by shard id. */
  private readonly seen = new Map<string, Map<number, Member>>();
  switches = 0;

  private readonly model: { numLayers: number; numExperts: number };

  constructor(initial: { addresses: readonly string[]; replicas: number }, model: { numLayers: number; numExperts: number }) {
    this.model = { numLayers: model.numLayers, numExperts: model.numExperts };
    this.current = Object.freeze({
      shards: initial.addresses.length,
      replicas: initial.replicas,
      addresses: Object.freeze([...initial.addresses]),
    });
  }

  get layout(): ShardLayout {
    return this.current;
  }

  /** Whether a heartbeat comes from a shard of the layout in use (its residency and load then apply). */
  inCurrentLayout(hb: ShardHeartbeat): boolean {
    return hb.shards === this.current.shards && hb.replicas === this.current.replicas && hb.shardId < hb.shards;
  }

  /** Records a heartbeat; returns the new layout when the router should move to it, else undefined. */
  observe(hb: ShardHeartbeat, nowMs = Date.now()): ShardLayout | undefined {
    if (hb.shards < 1 || hb.replicas < 1 || hb.replicas > hb.shards || hb.shardId >= hb.shards) return undefined;
    const key = `${hb.shards}/${hb.replicas}`;
    let members = this.seen.get(key);
    if (!members) this.seen.set(key, (members = new Map()));
    const known = members.get(hb.shardId);
    members.set(hb.shardId, {
      address: dialable(hb.address) ? hb.address : (known?.address ?? ""),
      lastSeenMs: nowMs,
      intervalMs: hb.intervalMs || 1000,
      draining: hb.draining,
    });
    const next = this.choose(nowMs);
    if (!next) return undefined;
    this.current = next;
    this.switches++;
    return next;
  }

  /** The usable layout to move to, or undefined to stay. */
  private choose(nowMs: number): ShardLayout | undefined {
    const cur = this.current;
    const curKey = `${cur.shards}/${cur.replicas}`;
    // The layout in use stays usable until its heartbeats say it no longer covers every expert.
    const currentUsable = !this.seen.has(curKey) || this.covers(cur.shards, cur.replicas, nowMs);
    let best: ShardLayout | undefined = currentUsable ? cur : undefined;
    // A shard of the layout in use that advertises a new address (a restarted pod elsewhere) is dialled there.
    const refreshed = currentUsable && this.seen.has(curKey) ? this.addresses(cur.shards, cur.replicas) : undefined;
    if (refreshed?.some((a, i) => a !== cur.addresses[i])) {
      best = Object.freeze({ shards: cur.shards, replicas: cur.replicas, addresses: Object.freeze(refreshed) });
    }
    for (const key of this.seen.keys()) {
      if (key === curKey) continue;
      const [S, R] = key.split("/").map(Number);
      if (best && (S < best.shards || (S === best.shards && R <= best.replicas))) continue;
      if (!this.covers(S, R, nowMs)) continue;
      const addresses = this.addresses(S, R);
      if (addresses) best = Object.freeze({ shards: S, replicas: R, addresses: Object.freeze(addresses) });
    }
    if (best === undefined || best === cur) return undefined;
    return best.shards === cur.shards && best.replicas === cur.replicas && best.addresses.every((a, i) => a === cur.addresses[i])
      ? undefined
      : best;
  }

  /** Whether every expert has a live owner among layout (S, R)'s heartbeating shards. */
  private covers(S: number, R: number, nowMs: number): boolean {
    const members = this.seen.get(`${S}/${R}`);
    if (!members) return false;
    const live = (id: number) => {
      const m = members.get(id);
      return m !== undefined && !m.draining && m.address !== "" && nowMs - m.lastSeenMs <= STALE_INTERVALS * m.intervalMs;
    };
    const placement = new Placement({ ...this.model, shards: S, replicas: R });
    for (let l = 0; l < this.model.numLayers; l++) {
      for (let e = 0; e < this.model.numExperts; e++) if (!placement.owners(l, e).some(live)) return false;
    }
    return true;
  }

  /** An address for every shard id of layout (S, R): its own heartbeat's, else the same id's in another layout or the static list. */
  private addresses(S: number, R: number): string[] | undefined {
    const out: string[] = [];
    for (let id = 0; id < S; id++) {
      const own = this.seen.get(`${S}/${R}`)?.get(id)?.address;
      const inUse = S === this.current.shards ? this.current.addresses[id] : undefined;
      const other = [...this.seen.values()].map((m) => m.get(id)?.address).find((a) => a);
      const address = own || inUse || other || this.current.addresses[id];
      if (!address) return undefined;
      out.push(address);
    }
    return out;
  }
}

/** Whether an advertised address can be dialled: not empty, not a wildcard listen address. */
function dialable(address: string): boolean {
  const host = address.replace(/:\d+$/, "");
  return host !== "" && host !== "0.0.0.0" && host !== "::" && host !== "[::]";
}
