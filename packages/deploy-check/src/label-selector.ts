// Kubernetes label selectors (matchLabels + matchExpressions), as PodDisruptionBudgets, NetworkPolicies
// and Services use them to pick pods.
import { isObject, type JsonObject } from "./strategic-merge.js";

export type Labels = Readonly<Record<string, string>>;

/** Whether `selector` (a LabelSelector; a Service's plain map when `plain`) selects pods labelled `labels`. */
export function selects(selector: JsonObject | undefined, labels: Labels, plain = false): boolean {
  if (!selector) return false;
  if (plain) return Object.entries(selector).every(([k, v]) => labels[k] === v);
  const matchLabels = (selector.matchLabels ?? {}) as Record<string, string>;
  const expressions = (selector.matchExpressions ?? []) as JsonObject[];
  return (
    Object.entries(matchLabels).every(([k, v]) => labels[k] === v) &&
    expressions.every((e) => {
      const value = labels[e.key as string];
      const values = (e.values ?? []) as string[];
      switch (e.operator) {
        case "In":
          return value !== undefined && values.includes(value);
        case "NotIn":
          return value === undefined || !values.includes(value);
        case "Exists":
          return value !== undefined;
        case "DoesNotExist":
          return value === undefined;
        default:
          throw new Error(`label selector: unknown operator ${String(e.operator)}`);
      }
    })
  );
}

/** Whether a LabelSelector is empty ({}), that is, selects every pod. */
export function selectsAll(selector: JsonObject | undefined): boolean {
  return (
    isObject(selector) &&
    Object.keys(selector.matchLabels ?? {}).length === 0 &&
    ((selector.matchExpressions ?? []) as unknown[]).length === 0
  );
}
