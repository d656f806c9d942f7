// What a shard lets through from the NATS hint stream, before any decoding or prefetch work: hints are
// untrusted input (anyone who can publish on expertmesh.v1.hints.* can send them, and a flood made
// every request ~10x slower), so each one is checked, cheapest first:
//   size     a hint larger than maxHintBytes is dropped undecoded ("oversized");
//   rate     hints per second, a token bucket (burst = one second's worth) ("rate_limited");
//   shape    a layer or expert id out of range, or more ids than experts ("malformed");
//   experts  experts passed on to prefetch per second, a second bucket: whatever arrives, prefetching
//            costs at most hintExpertRate loads per second of link and the CPU to plan them ("rate_limited").
// Counted by outcome in expertmesh_hints_received_total and expertmesh_hint_experts_admitted_total.
import { PrefetchHint } from "@expertmesh/proto";
import type { MeshMetrics } from "@expertmesh/runtime";

export interface HintLimits {
  readonly maxHintBytes: number;
  /** Hints per second accepted (sustained; bursts up to one second's worth). */
  readonly hintRate: number;
  /** Experts per second passed to prefetch. */
  readonly hintExpertRate: number;
}

export type HintOutcome = "accepted" | "oversized" | "rate_limited" | "malformed";

/** A token bucket: `rate` tokens per second, holding at most `rate` (one second's burst). */
class Bucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly rate: number) {
    this.tokens = rate;
  }
  take(n: number): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

export class HintGate {
  private readonly hints: Bucket;
  private readonly experts: Bucket;
  readonly counts: Record<HintOutcome, number> = { accepted: 0, oversized: 0, rate_limited: 0, malformed: 0 };
  expertsAdmitted = 0;

  constructor(
    private readonly limits: HintLimits,
    private readonly model: { numLayers: number; numExperts: number },
    private readonly metrics?: MeshMetrics,
  ) {
    this.hints = new Bucket(limits.hintRate);
    this.experts = new Bucket(limits.hintExpertRate);
  }

  /** The decoded hint when it may be acted on, else undefined (and the reason counted). */
  admit(data: Uint8Array): PrefetchHint | undefined {
    if (data.length > this.limits.maxHintBytes) return this.refuse("oversized");
    if (!this.hints.take(1)) return this.refuse("rate_limited");
    let hint: PrefetchHint;
    try {
      hint = PrefetchHint.decode(data);
    } catch {
      return this.refuse("malformed");
    }
    const { numLayers, numExperts } = this.model;
    if (hint.layer >= numLayers || hint.expertIds.length > numExperts || hint.expertIds.some((e) => e >= numExperts))
      return this.refuse("malformed");
    if (hint.expertIds.length > 0 && !this.experts.take(hint.expertIds.length)) return this.refuse("rate_limited");
    this.counts.accepted++;
    this.expertsAdmitted += hint.expertIds.length;
    this.metrics?.hintsReceived.inc({ outcome: "accepted" });
    this.metrics?.hintExpertsAdmitted.inc(hint.expertIds.length);
    return hint;
  }

  private refuse(outcome: Exclude<HintOutcome, "accepted">): undefined {
    this.counts[outcome]++;
    this.metrics?.hintsReceived.inc({ outcome });
    return undefined;
  }
}
