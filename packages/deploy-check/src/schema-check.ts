// Validates rendered objects against the Kubernetes API schemas, offline, in two parts:
// - shapes and types: the JSON-schema validators that `kubernetes-models` generates from the
//   Kubernetes OpenAPI document (required fields, types, enums, formats);
// - unknown fields, which those validators accept: every key of every object must be a property of
//   its type in the same package's TypeScript declarations (read with the TypeScript compiler), so a
//   misspelt `readinesProbe` or a field at the wrong level is an error.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";
import type { K8sObject } from "./kustomize.js";
import { isObject } from "./strategic-merge.js";

const require = createRequire(import.meta.url);
const MODELS_DIR = dirname(require.resolve("kubernetes-models/package.json"));

/** "apps/v1" + "StatefulSet" → the module path inside kubernetes-models. */
function modelPath(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

export interface SchemaProblem {
  object: string;
  message: string;
}

/** Type and shape errors from kubernetes-models' generated validators. */
export async function validateShapes(objects: readonly K8sObject[]): Promise<SchemaProblem[]> {
  const problems: SchemaProblem[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.name}`;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(`kubernetes-models/${modelPath(o.apiVersion, o.kind)}`)) as Record<string, unknown>;
    } catch {
      problems.push({ object: id, message: `no schema for ${o.apiVersion} ${o.kind}` });
      continue;
    }
    const Model = mod[o.kind] as new (data: unknown) => { validate(): void };
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push({ object: id, message: (e as Error).message });
    }
  }
  return problems;
}

/**
 * Fields that no type declares, per object ("StatefulSet/x: spec.template.spec.containers[0].readinesProbe"),
 * walking each object along its kind's interface (IStatefulSet, ...) in kubernetes-models' .d.ts files.
 */
export function unknownFields(objects: readonly K8sObject[]): SchemaProblem[] {
  const files = new Map(objects.map((o) => [`${o.apiVersion} ${o.kind}`, join(MODELS_DIR, `${modelPath(o.apiVersion, o.kind)}.d.ts`)]));
  const program = ts.createProgram(
    [...new Set(files.values())].filter((f) => ts.sys.fileExists(f)),
    {
      noEmit: true,
      types: [],
      skipLibCheck: true,
      lib: ["lib.es2022.d.ts"],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    },
  );
  const tc = program.getTypeChecker();
  const problems: SchemaProblem[] = [];
  for (const object of objects) {
    const id = `${object.kind}/${object.metadata.name}`;
    const source = program.getSourceFile(files.get(`${object.apiVersion} ${object.kind}`)!);
    const symbol = source && tc.getSymbolAtLocation(source)?.exports?.get(`I${object.kind}` as ts.__String);
    if (!symbol) {
      problems.push({ object: id, message: `no type declaration for ${object.apiVersion} ${object.kind}` });
      continue;
    }
    for (const path of walk(tc, object, tc.getDeclaredTypeOfSymbol(symbol), ""))
      problems.push({ object: id, message: `unknown field ${path}` });
  }
  return problems;
}

function walk(tc: ts.TypeChecker, value: unknown, type: ts.Type, path: string): string[] {
  if (type.isUnion()) {
    const objectTypes = type.types.filter((t) => t.flags & ts.TypeFlags.Object);
    if (objectTypes.length === 0) return [];
    type = objectTypes[0];
  }
  if (!(type.flags & ts.TypeFlags.Object)) return [];
  if (Array.isArray(value)) {
    const element = tc.isArrayType(type) ? tc.getTypeArguments(type as ts.TypeReference)[0] : undefined;
    return element ? value.flatMap((v, i) => walk(tc, v, element, `${path}[${i}]`)) : [];
  }
  if (!isObject(value)) return [];
  const index = tc.getIndexTypeOfType(type, ts.IndexKind.String);
  const props = new Map(tc.getPropertiesOfType(type).map((p) => [p.name, p]));
  return Object.entries(value).flatMap(([key, v]) => {
    const prop = props.get(key);
    const at = path ? `${path}.${key}` : key;
    if (prop) return walk(tc, v, tc.getNonNullableType(tc.getTypeOfSymbol(prop)), at);
    if (index) return walk(tc, v, index, at);
    return [at];
  });
}
