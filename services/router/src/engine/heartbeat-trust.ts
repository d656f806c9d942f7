// Which shard heartbeats the router believes. A heartbeat moves traffic (it names the address to dial,
// the layout, residency, load, draining), so one is used only when
//   - it came on its own shard's subject (expertmesh.v1.shards.<id> with the same id in the message):
//     with NATS authentication and the mesh's subject permissions only that shard's user can publish
//     there, so the subject is the authenticated identity; and
//   - the address it names is one the router may dial: the configured --shards list, or a pattern of
//     --allowed-shard-addresses ("*" matches within one DNS label or port, e.g.
//     "expert-shard-*.expert-shard.expertmesh.svc.cluster.local:50061", "127.0.0.1:*").
// Anything else is refused and counted by reason, and never reaches the placement or the pool.
import type { ShardHeartbeat } from "@expertmesh/proto";
import { SHARDS_ALL } from "@expertmesh/runtime";

export type HeartbeatVerdict = "accepted" | "subject_mismatch" | "address_not_allowed";

const SUBJECT_PREFIX = SHARDS_ALL.slice(0, -1); // "expertmesh.v1.shards."

export class HeartbeatTrust {
  private readonly exact: Set<string>;
  private readonly patterns: RegExp[];
  readonly counts: Record<HeartbeatVerdict, number> = { accepted: 0, subject_mismatch: 0, address_not_allowed: 0 };

  /** `configured`: the static --shards list; `allowed`: further addresses or patterns. */
  constructor(configured: readonly string[], allowed: readonly string[] = []) {
    this.exact = new Set([...configured, ...allowed.filter((a) => !a.includes("*"))]);
    this.patterns = allowed.filter((a) => a.includes("*")).map(addressPattern);
  }

  /** Whether the router may dial `address`. */
  mayDial(address: string): boolean {
    return this.exact.has(address) || this.patterns.some((p) => p.test(address));
  }

  /** The verdict on a heartbeat received on `subject`; counted. */
  judge(subject: string, hb: ShardHeartbeat): HeartbeatVerdict {
    const verdict =
      subject !== `${SUBJECT_PREFIX}${hb.shardId}`
        ? "subject_mismatch"
        : hb.address !== "" && !this.mayDial(hb.address)
          ? "address_not_allowed"
          : "accepted";
    this.counts[verdict]++;
    return verdict;
  }
}

/** "*" matches one or more characters other than "." and ":" (one DNS label, or the port). */
function addressPattern(pattern: string): RegExp {
  const escaped = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join("[^.:]+")}$`);
}
