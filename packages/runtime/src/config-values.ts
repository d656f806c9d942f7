// Parsers for config values given as text (flags, environment): each returns the value or a
// message saying what was expected. Units are explicit: durations "250ms" "5s" "2m" "1h" (a bare
// number is milliseconds), sizes "512" "64KiB" "512MiB" "2GiB" "1GB" (a bare number is bytes).

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (expected: string): Parsed<never> => ({ ok: false, expected });

export function parseInteger(text: string): Parsed<number> {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) return bad("an integer");
  const value = Number(t);
  return Number.isSafeInteger(value) ? ok(value) : bad("an integer within ±2^53");
}

export function parseNumber(text: string): Parsed<number> {
  const t = text.trim();
  const value = Number(t);
  return t !== "" && Number.isFinite(value) ? ok(value) : bad("a finite number");
}

export function parseBoolean(text: string): Parsed<boolean> {
  const t = text.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(t)) return ok(true);
  if (["false", "0", "no", "off"].includes(t)) return ok(false);
  return bad("true or false");
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds. */
export function parseDuration(text: string): Parsed<number> {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return bad('a duration such as "250ms", "5s", "2m" (a bare number is milliseconds)');
  return ok(Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? "ms"]));
}

const BYTE_UNITS: Record<string, number> = {
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

/** Bytes. */
export function parseBytes(text: string): Parsed<number> {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = BYTE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) return bad('a size such as "512MiB", "2GiB", "64KB" (a bare number is bytes)');
  const value = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(value) ? ok(value) : bad("a size below 2^53 bytes");
}

export function parseList(text: string): Parsed<string[]> {
  return ok(
    text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  );
}
