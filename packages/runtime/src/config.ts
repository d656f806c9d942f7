// Typed service configuration, declared once per service: each key has a type, a default, a flag
// and an environment variable (derived from the key unless given), and optional validation.
// parse() reads argv and env (flag wins over env, env over default) into a frozen object, and
// fails at start-up with a ConfigError naming the key, where the value came from, and the value.
//
//   const shardConfig = defineConfig({ envPrefix: "EXPERTMESH_SHARD_" }, {
//     port: { type: "int", default: 50061, min: 0, max: 65535, description: "gRPC port" },
//     policy: { type: "enum", values: ["lru", "expertflow"], default: "lru", description: "cache policy" },
//     deviceBudget: { type: "bytes", default: 256 * 2 ** 20, description: "device-tier budget" },
//   });
//   const config = shardConfig.parse(process.argv.slice(2), process.env); // config.port: number

import { parseBoolean, parseBytes, parseDuration, parseInteger, parseList, parseNumber, type Parsed } from "./config-values.js";

interface KeyBase<T> {
  readonly description: string;
  /** Environment variable; default: envPrefix + the key in UPPER_SNAKE_CASE; false for none. */
  readonly env?: string | false;
  /** Flag; default: "--" + the key in kebab-case; false for none. */
  readonly flag?: string | false;
  /** Returns a message when the (parsed) value is not acceptable. */
  readonly validate?: (value: T) => string | undefined;
  /** Without a default, a key is optional (undefined) unless required. */
  readonly required?: boolean;
}

interface Ranged {
  readonly min?: number;
  readonly max?: number;
}

export type KeySpec =
  | (KeyBase<string> & { readonly type: "string"; readonly default?: string })
  | (KeyBase<number> & Ranged & { readonly type: "int" | "number"; readonly default?: number })
  | (KeyBase<number> & Ranged & { readonly type: "duration"; readonly default?: number }) // milliseconds
  | (KeyBase<number> & Ranged & { readonly type: "bytes"; readonly default?: number })
  | (KeyBase<boolean> & { readonly type: "boolean"; readonly default?: boolean })
  | (KeyBase<string[]> & { readonly type: "list"; readonly default?: readonly string[] })
  | (KeyBase<string> & { readonly type: "enum"; readonly values: readonly string[]; readonly default?: string });

type BaseValue<S> = S extends { type: "string" }
  ? string
  : S extends { type: "int" | "number" | "duration" | "bytes" }
    ? number
    : S extends { type: "boolean" }
      ? boolean
      : S extends { type: "list" }
        ? readonly string[]
        : S extends { type: "enum"; values: readonly (infer V)[] }
          ? V
          : never;

/** The parsed value of a key: undefined only when it has neither a default nor `required`. */
export type ValueOf<S> = S extends { default: unknown } | { required: true } ? BaseValue<S> : BaseValue<S> | undefined;

export type ConfigValues<Specs extends Record<string, KeySpec>> = { readonly [K in keyof Specs]: ValueOf<Specs[K]> };

/** A configuration value that cannot be used; thrown by parse() at start-up. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    /** The config key, e.g. "port"; empty for an unknown flag. */
    readonly key: string,
    /** Where the value came from: a flag ("--port"), an env var ("EXPERTMESH_PORT") or "default". */
    readonly source: string,
    /** The value as given (text), or undefined when a required key is missing. */
    readonly value: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface ConfigDefinition<Specs extends Record<string, KeySpec>> {
  readonly specs: Specs;
  /** Parses argv (without node and script) and env; throws ConfigError on the first bad value. */
  parse(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ConfigValues<Specs>;
  /** One line per key: flag, env var, default, description. */
  help(): string;
}

export function defineConfig<const Specs extends Record<string, KeySpec>>(
  options: { readonly envPrefix: string },
  specs: Specs,
): ConfigDefinition<Specs> {
  const keys = Object.entries(specs).map(([key, spec]) => ({
    key,
    spec,
    flag: spec.flag === false ? undefined : (spec.flag ?? `--${kebab(key)}`),
    env: spec.env === false ? undefined : (spec.env ?? `${options.envPrefix}${upperSnake(key)}`),
  }));
  const byFlag = new Map(keys.flatMap((k) => (k.flag === undefined ? [] : [[k.flag, k] as const])));

  return {
    specs,
    parse(argv, env) {
      const fromFlags = readFlags(argv, byFlag);
      const out: Record<string, unknown> = {};
      for (const { key, spec, env: envName } of keys) {
        const given = fromFlags.get(key) ?? (envName !== undefined && env[envName] ? { source: envName, text: env[envName]! } : undefined);
        let value: unknown;
        if (given !== undefined) {
          const parsed = parseValue(spec, given.text);
          if (!parsed.ok) throw invalid(key, given.source, given.text, `expected ${parsed.expected}`);
          value = parsed.value;
          check(key, spec, value, given.source, given.text);
        } else if (spec.default !== undefined) {
          value = Array.isArray(spec.default) ? [...spec.default] : spec.default;
          check(key, spec, value, "default", String(spec.default));
        } else if (spec.required) {
          const where = [keys.find((k) => k.key === key)?.flag, envName].filter(Boolean).join(" or ");
          throw new ConfigError(key, "", undefined, `config ${key}: required, set ${where || "it"}`);
        }
        out[key] = Array.isArray(value) ? Object.freeze(value) : value;
      }
      return Object.freeze(out) as ConfigValues<Specs>;
    },
    help() {
      return keys
        .map(({ spec, flag, env: envName }) => {
          const names = [flag, envName].filter(Boolean).join(", ");
          const dflt = spec.default === undefined ? (spec.required ? " (required)" : "") : ` (default ${String(spec.default)})`;
          const values = spec.type === "enum" ? ` [${spec.values.join("|")}]` : "";
          return `  ${names}  ${spec.type}${values}${dflt}\n      ${spec.description}`;
        })
        .join("\n");
    },
  };
}

type FlagKey = { readonly key: string; readonly spec: KeySpec; readonly flag: string | undefined };

/** Flag values by key: "--name value", "--name=value", "--bool", "--no-bool". */
function readFlags(argv: readonly string[], byFlag: ReadonlyMap<string, FlagKey>): Map<string, { source: string; text: string }> {
  const out = new Map<string, { source: string; text: string }>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError("", arg, arg, `unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let entry = byFlag.get(name);
    let text = eq === -1 ? undefined : arg.slice(eq + 1);
    if (entry === undefined && name.startsWith("--no-") && eq === -1) {
      const positive = byFlag.get(`--${name.slice(5)}`);
      if (positive?.spec.type === "boolean") [entry, text] = [positive, "false"];
    }
    if (entry === undefined) throw new ConfigError("", name, arg, `unknown flag ${name}`);
    if (text === undefined) {
      if (entry.spec.type === "boolean") text = "true";
      else if (i + 1 < argv.length) text = argv[++i]!;
      else throw new ConfigError(entry.key, name, undefined, `config ${entry.key}: ${name} needs a value`);
    }
    out.set(entry.key, { source: name, text });
  }
  return out;
}

function parseValue(spec: KeySpec, text: string): Parsed<unknown> {
  switch (spec.type) {
    case "string":
      return { ok: true, value: text };
    case "int":
      return parseInteger(text);
    case "number":
      return parseNumber(text);
    case "duration":
      return parseDuration(text);
    case "bytes":
      return parseBytes(text);
    case "boolean":
      return parseBoolean(text);
    case "list":
      return parseList(text);
    case "enum":
      return spec.values.includes(text) ? { ok: true, value: text } : { ok: false, expected: `one of ${spec.values.join(", ")}` };
  }
}

function check(key: string, spec: KeySpec, value: unknown, source: string, text: string): void {
  if ("min" in spec && spec.min !== undefined && (value as number) < spec.min)
    throw invalid(key, source, text, `must be at least ${spec.min}`);
  if ("max" in spec && spec.max !== undefined && (value as number) > spec.max)
    throw invalid(key, source, text, `must be at most ${spec.max}`);
  const message = (spec.validate as ((v: unknown) => string | undefined) | undefined)?.(value);
  if (message !== undefined) throw invalid(key, source, text, message);
}

function invalid(key: string, source: string, text: string, why: string): ConfigError {
  return new ConfigError(key, source, text, `config ${key}: invalid value ${JSON.stringify(text)} from ${source}: ${why}`);
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function upperSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}
