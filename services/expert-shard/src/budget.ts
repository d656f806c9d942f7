// Tier budgets as given on the command line: a share of the experts this shard owns ("25%", "12.5%")
// or a size in bytes ("6291456", "6MiB", "512KB"). A share is resolved once the shard knows what it owns.

export type Budget = { readonly kind: "share"; readonly percent: number } | { readonly kind: "bytes"; readonly bytes: number };

const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** The budget that `text` names, or a message saying what was expected. */
export function parseBudget(text: string): { ok: true; budget: Budget } | { ok: false; expected: string } {
  const t = text.trim();
  const share = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (share !== null) {
    const percent = Number(share[1]);
    return percent > 0 && percent <= 100
      ? { ok: true, budget: { kind: "share", percent } }
      : { ok: false, expected: "a share in (0%, 100%]" };
  }
  const size = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(t);
  const unit = BYTE_UNITS[(size?.[2] ?? "").toLowerCase()];
  if (size === null || unit === undefined) {
    return { ok: false, expected: 'a share of the owned experts such as "25%", or a size such as "6MiB" (a bare number is bytes)' };
  }
  const bytes = Math.floor(Number(size[1]) * unit);
  return Number.isSafeInteger(bytes) ? { ok: true, budget: { kind: "bytes", bytes } } : { ok: false, expected: "a size below 2^53 bytes" };
}

/** Bytes of a budget, given the bytes of all the experts the shard owns. */
export function budgetBytes(budget: Budget, ownedBytes: number): number {
  return budget.kind === "bytes" ? budget.bytes : Math.floor((ownedBytes * budget.percent) / 100);
}
