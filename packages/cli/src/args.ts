// Flag parsing shared by the commands: node:util parseArgs with typed numeric flags whose errors name the
// flag and the value.
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

export type Flags = NonNullable<ParseArgsConfig["options"]>;

type FlagValue<O> = O extends { type: "boolean" } ? boolean : string;
export type FlagValues<T extends Flags> = { [K in keyof T]?: T[K] extends { multiple: true } ? FlagValue<T[K]>[] : FlagValue<T[K]> };

export function parseFlags<T extends Flags>(argv: string[], options: T): FlagValues<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as FlagValues<T>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function numberFlag(name: string, raw: string | undefined, fallback: number, check: (v: number) => boolean, rule: string): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${rule}, got ${JSON.stringify(raw)}`);
  return v;
}

export const isPositiveInt = (v: number) => Number.isInteger(v) && v > 0;
export const isNonNegativeInt = (v: number) => Number.isInteger(v) && v >= 0;

/** The usage error for a file named by a flag that cannot be read: "--file x.txt: not found". */
export function fileFlagError(flag: string, file: string, e: unknown): UsageError {
  return new UsageError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (e as Error).message}`);
}
