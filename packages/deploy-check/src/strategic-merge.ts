// Strategic merge of a patch into a Kubernetes object, as kustomize applies `patches: - path:` files:
// maps merge key by key, `null` deletes a key, and the lists that Kubernetes merges by a key (containers
// by name, ports by containerPort, ...) merge element by element; every other list is replaced.
// Only what deploy/ uses is covered; renders are cross-checked against `kubectl kustomize` where present.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** List fields merged element by element, and the key that identifies an element. */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
  tolerations: "key",
  imagePullSecrets: "name",
};

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function strategicMerge(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(out[key])) out[key] = strategicMerge(out[key] as JsonObject, value);
    else if (Array.isArray(value) && Array.isArray(out[key]) && MERGE_KEYS[key]) out[key] = mergeList(out[key] as Json[], value, key);
    else out[key] = structuredClone(value);
  }
  return out;
}

function mergeList(target: Json[], patch: Json[], field: string): Json[] {
  const mergeKey = MERGE_KEYS[field];
  const out = [...target];
  const added: Json[] = [];
  for (const item of patch) {
    if (!isObject(item) || item[mergeKey] === undefined) throw new Error(`strategic merge: an element of ${field} has no ${mergeKey}`);
    const at = out.findIndex((t) => isObject(t) && t[mergeKey] === item[mergeKey]);
    if (at === -1) added.push(structuredClone(item));
    else out[at] = strategicMerge(out[at] as JsonObject, item);
  }
  // kustomize puts the elements that only the patch has before the target's (as kubectl kustomize prints).
  return [...added, ...out];
}
