// Offline checks of deploy/: kustomize rendering, Kubernetes schema validation, deployment rules and
// Dockerfile checks. Used by this package's tests; also usable from a script.
export { findKubectl, podSpec, readYamlDocuments, renderKustomization, renderWithKubectl, type K8sObject } from "./kustomize.js";
export { strategicMerge, type JsonObject } from "./strategic-merge.js";
export { unknownFields, validateShapes, type SchemaProblem } from "./schema-check.js";
export {
  allRules,
  acceleratorRules,
  containerRules,
  coverageRules,
  labelRules,
  lifecycleRules,
  meshRules,
  configData,
  durationMs,
  securityRules,
} from "./rules.js";
export { modelVolumeRules, MODEL_VOLUME_SCRIPT } from "./model-volume-rules.js";
export { checkDockerfile, parseDockerfile } from "./dockerfile-check.js";
export { selects } from "./label-selector.js";
export { checkRendered } from "./check.js";
