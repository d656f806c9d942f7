// Renders a kustomize directory to its objects. Two renderers: `kubectl kustomize` when kubectl is on
// the machine (the tool users run), and a built-in one covering the subset of kustomize that deploy/
// uses (resources, components, strategic-merge patches, images), so that the checks run on machines
// without kubectl. The tests render with both where kubectl exists and require the same objects.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { isObject, strategicMerge, type JsonObject } from "./strategic-merge.js";

export type K8sObject = JsonObject & { apiVersion: string; kind: string; metadata: JsonObject & { name: string } };

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "components", "patches", "images"]);

/** Every YAML document of a file, as plain objects (empty documents skipped). */
export function readYamlDocuments(file: string): JsonObject[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  return docs.flatMap((doc, i) => {
    if (doc.errors.length) throw new Error(`${file}: document ${i}: ${doc.errors[0].message}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return [];
    if (!isObject(value)) throw new Error(`${file}: document ${i} is not a mapping`);
    return [value];
  });
}

/** The built-in renderer: the objects `kubectl kustomize dir` would print, in resource order. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, "kustomization.yaml");
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const [k] = readYamlDocuments(file);
  for (const key of Object.keys(k))
    if (!SUPPORTED.has(key)) throw new Error(`${file}: field ${key} is not supported by the built-in renderer`);
  let objects: K8sObject[] = [];
  for (const entry of (k.resources ?? []) as string[]) {
    const path = resolve(dir, entry);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readYamlDocuments(path).map((o) => asObject(o, path))));
  }
  for (const entry of (k.components ?? []) as string[]) objects = applyComponent(resolve(dir, entry), objects);
  for (const p of (k.patches ?? []) as JsonObject[]) objects = applyPatch(objects, resolve(dir, p.path as string));
  for (const image of (k.images ?? []) as JsonObject[]) objects = objects.map((o) => setImage(o, image));
  return objects;
}

function applyComponent(dir: string, objects: K8sObject[]): K8sObject[] {
  const [k] = readYamlDocuments(join(dir, "kustomization.yaml"));
  if (k.kind !== "Component") throw new Error(`${dir}: a component's kind must be Component, got ${String(k.kind)}`);
  let out = [...objects];
  for (const entry of (k.resources ?? []) as string[]) out.push(...readYamlDocuments(resolve(dir, entry)).map((o) => asObject(o, entry)));
  for (const p of (k.patches ?? []) as JsonObject[]) out = applyPatch(out, resolve(dir, p.path as string));
  return out;
}

function applyPatch(objects: K8sObject[], file: string): K8sObject[] {
  const [patch] = readYamlDocuments(file);
  const name = (patch.metadata as JsonObject | undefined)?.name;
  const at = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === name);
  if (at === -1) throw new Error(`${file}: patch target ${String(patch.kind)}/${String(name)} not found`);
  const out = [...objects];
  out[at] = strategicMerge(objects[at], patch) as K8sObject;
  return out;
}

function setImage(object: K8sObject, image: JsonObject): K8sObject {
  const spec = podSpec(object);
  if (!spec) return object;
  for (const c of [...((spec.containers ?? []) as JsonObject[]), ...((spec.initContainers ?? []) as JsonObject[])]) {
    const [name, tag] = splitImage(c.image as string);
    if (name !== image.name) continue;
    c.image = `${(image.newName as string | undefined) ?? name}:${(image.newTag as string | undefined) ?? tag}`;
  }
  return object;
}

function splitImage(ref: string): [string, string] {
  const colon = ref.lastIndexOf(":");
  return colon > ref.lastIndexOf("/") ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "latest"];
}

function asObject(o: JsonObject, source: string): K8sObject {
  if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || !isObject(o.metadata) || typeof o.metadata.name !== "string") {
    throw new Error(`${source}: an object without apiVersion, kind or metadata.name`);
  }
  return o as K8sObject;
}

/** The pod template's spec of a workload (Deployment, StatefulSet, ...), or the spec of a Pod. */
export function podSpec(object: K8sObject): JsonObject | undefined {
  const spec = object.spec as JsonObject | undefined;
  if (object.kind === "Pod") return spec;
  const template = spec?.template as JsonObject | undefined;
  return template?.spec as JsonObject | undefined;
}

/** The path of kubectl if it is installed, else undefined. */
export function findKubectl(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/usr/local/bin"])) {
    const path = join(dir, "kubectl");
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}

/** `kubectl kustomize dir`, parsed. */
export function renderWithKubectl(kubectl: string, dir: string): K8sObject[] {
  const text = execFileSync(kubectl, ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return parseAllDocuments(text).flatMap((d) => {
    const v = d.toJS() as unknown;
    return isObject(v) ? [asObject(v, `kubectl kustomize ${dir}`)] : [];
  });
}
