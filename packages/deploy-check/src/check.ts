// One call that checks a rendered overlay: Kubernetes schemas (shapes, then unknown fields) and the
// deployment rules. Returns every problem as one line; an empty list means the overlay passes.
import type { K8sObject } from "./kustomize.js";
import { modelVolumeRules } from "./model-volume-rules.js";
import { allRules } from "./rules.js";
import { unknownFields, validateShapes } from "./schema-check.js";

export async function checkRendered(objects: readonly K8sObject[]): Promise<string[]> {
  const schema = [...(await validateShapes(objects)), ...unknownFields(objects)].map((p) => `${p.object}: ${p.message}`);
  return [...schema, ...allRules(objects), ...modelVolumeRules(objects)];
}
