// The deployment rules of deploy/ (issue 6), checked on rendered objects. Each rule returns the
// violations it finds, one line each naming the object, the container and what is missing, so that a
// failing test says what to fix.
import { podSpec, type K8sObject } from "./kustomize.js";
import { selects, selectsAll, type Labels } from "./label-selector.js";
import type { JsonObject } from "./strategic-merge.js";

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
const REQUIRED_LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/part-of"];
/** Shortest startup window (periodSeconds × failureThreshold) for services that load model weights. */
export const MIN_STARTUP_WINDOW_S = 120;

/** The service each workload runs, and its configuration prefix in the ConfigMap. */
const SERVICES: Record<string, { prefix: string; defaultDrainMs: number }> = {
  router: { prefix: "EXPERTMESH_ROUTER_", defaultDrainMs: 60_000 },
  "expert-shard": { prefix: "EXPERTMESH_SHARD_", defaultDrainMs: 30_000 },
  predictor: { prefix: "EXPERTMESH_PREDICTOR_", defaultDrainMs: 30_000 },
};

export const workloads = (objects: readonly K8sObject[]) => objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
const podLabels = (o: K8sObject): Labels =>
  ((((o.spec as JsonObject).template as JsonObject).metadata as JsonObject)?.labels ?? {}) as Labels;
const containers = (o: K8sObject) => (podSpec(o)?.containers ?? []) as JsonObject[];

/** Probes (startup, readiness, liveness), CPU and memory requests and limits, a non-root security context. */
export function containerRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  for (const w of workloads(objects)) {
    const pod = podSpec(w)!;
    const podSecurity = (pod.securityContext ?? {}) as JsonObject;
    for (const c of containers(w)) {
      const where = `${id(w)} container ${String(c.name)}`;
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) if (!c[probe]) out.push(`${where}: no ${probe}`);
      const resources = (c.resources ?? {}) as Record<string, Record<string, unknown> | undefined>;
      for (const kind of ["requests", "limits"]) {
        for (const r of ["cpu", "memory"]) if (resources[kind]?.[r] === undefined) out.push(`${where}: no resources.${kind}.${r}`);
      }
      out.push(...securityRules(podSecurity, c, where));
      const ports = new Map(
        ((c.ports ?? []) as JsonObject[]).flatMap(
          (p) =>
            [
              [p.containerPort, p],
              [p.name, p],
            ] as const,
        ),
      );
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = c[probe] as JsonObject | undefined;
        const handler = (p?.grpc ?? p?.httpGet ?? p?.tcpSocket) as JsonObject | undefined;
        if (handler && !ports.has(handler.port as string | number))
          out.push(`${where}: ${probe} port ${String(handler.port)} is not a container port`);
      }
    }
  }
  return out;
}

/** A non-root, unprivileged container with every capability dropped (`where` names it in each line). */
export function securityRules(podSecurity: JsonObject, c: JsonObject, where: string): string[] {
  const out: string[] = [];
  const security = (c.securityContext ?? {}) as JsonObject;
  const nonRoot = security.runAsNonRoot ?? podSecurity.runAsNonRoot;
  const user = security.runAsUser ?? podSecurity.runAsUser;
  if (nonRoot !== true) out.push(`${where}: runAsNonRoot is not true`);
  if (user === 0) out.push(`${where}: runAsUser is 0 (root)`);
  if (security.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
  if (security.privileged === true) out.push(`${where}: privileged`);
  const drop = (((security.capabilities ?? {}) as JsonObject).drop ?? []) as string[];
  if (!drop.includes("ALL")) out.push(`${where}: capabilities.drop lacks ALL`);
  return out;
}

/** app.kubernetes.io labels on every object and pod template. */
export function labelRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  for (const o of objects) {
    const labels = (o.metadata.labels ?? {}) as Labels;
    for (const l of REQUIRED_LABELS) if (!labels[l]) out.push(`${id(o)}: no label ${l}`);
  }
  for (const w of workloads(objects))
    for (const l of [...REQUIRED_LABELS, "app.kubernetes.io/component"])
      if (!podLabels(w)[l]) out.push(`${id(w)}: pod template has no label ${l}`);
  return out;
}

/** Every workload's pods are covered by a PodDisruptionBudget and by a NetworkPolicy beyond the default deny. */
export function coverageRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget");
  const policies = objects.filter((o) => o.kind === "NetworkPolicy");
  const denyAll = policies.some((p) => {
    const spec = p.spec as JsonObject;
    const types = (spec.policyTypes ?? []) as string[];
    return (
      selectsAll(spec.podSelector as JsonObject) && types.includes("Ingress") && types.includes("Egress") && !spec.ingress && !spec.egress
    );
  });
  if (!denyAll) out.push("no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)");
  for (const w of workloads(objects)) {
    const labels = podLabels(w);
    const covering = pdbs.filter((p) => selects((p.spec as JsonObject).selector as JsonObject, labels));
    if (covering.length === 0) out.push(`${id(w)}: no PodDisruptionBudget selects its pods`);
    if (covering.length > 1)
      out.push(`${id(w)}: ${covering.length} PodDisruptionBudgets select its pods (eviction fails with more than one)`);
    const allows = policies.filter((p) => {
      const selector = (p.spec as JsonObject).podSelector as JsonObject;
      return !selectsAll(selector) && selects(selector, labels);
    });
    if (allows.length === 0) out.push(`${id(w)}: no NetworkPolicy selects its pods (beyond the default deny)`);
  }
  for (const s of objects.filter((o) => o.kind === "Service")) {
    const selector = (s.spec as JsonObject).selector as JsonObject | undefined;
    if (selector && !workloads(objects).some((w) => selects(selector, podLabels(w), true)))
      out.push(`${id(s)}: its selector matches no workload`);
  }
  return out;
}

/** Reads a duration as the services do ("90s", "2m", bare milliseconds). */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[m[2] ?? "ms"]!;
}

export function configData(objects: readonly K8sObject[]): Record<string, string> {
  const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "expertmesh");
  if (!config) throw new Error("no ConfigMap expertmesh");
  return (config.data ?? {}) as Record<string, string>;
}

/** Graceful termination longer than the drain (the longest generation, for the router); startup window for loading. */
export function lifecycleRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const data = configData(objects);
  for (const w of workloads(objects)) {
    const service = SERVICES[w.metadata.name];
    if (!service) continue;
    const drainMs = data[`${service.prefix}DRAIN_TIMEOUT`] ? durationMs(data[`${service.prefix}DRAIN_TIMEOUT`]) : service.defaultDrainMs;
    const grace = ((podSpec(w)!.terminationGracePeriodSeconds ?? 30) as number) * 1000;
    if (grace <= drainMs)
      out.push(`${id(w)}: terminationGracePeriodSeconds ${grace / 1000} is not longer than the drain timeout ${drainMs / 1000}s`);
    for (const c of containers(w)) {
      if (!c.envFrom) out.push(`${id(w)} container ${String(c.name)}: does not read the ConfigMap (envFrom)`);
      const startup = c.startupProbe as JsonObject | undefined;
      const window = ((startup?.periodSeconds ?? 10) as number) * ((startup?.failureThreshold ?? 3) as number);
      if (w.metadata.name !== "predictor" && window < MIN_STARTUP_WINDOW_S) {
        out.push(
          `${id(w)} container ${String(c.name)}: startup window ${window}s is shorter than ${MIN_STARTUP_WINDOW_S}s (model loading)`,
        );
      }
    }
  }
  return out;
}

/**
 * The mesh's own consistency: the shard count in the ConfigMap equals the StatefulSet's replicas and the
 * router's shard list, whose i-th address is pod expert-shard-i; replicas agree between router and shards;
 * the shards' PDB lets at most replicas-1 shards go, so that every expert keeps an owner.
 */
export function meshRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const data = configData(objects);
  const shards = Number(data.EXPERTMESH_SHARD_SHARDS ?? 1);
  const replicas = Number(data.EXPERTMESH_SHARD_REPLICAS ?? 1);
  const set = objects.find((o) => o.kind === "StatefulSet" && o.metadata.name === "expert-shard");
  if (!set) return ["no StatefulSet expert-shard"];
  const setReplicas = (set.spec as JsonObject).replicas ?? 1;
  const serviceName = (set.spec as JsonObject).serviceName as string;
  if (setReplicas !== shards)
    out.push(`StatefulSet/expert-shard: replicas ${String(setReplicas)} differs from EXPERTMESH_SHARD_SHARDS ${shards}`);
  const port = data.EXPERTMESH_SHARD_PORT ?? "50061";
  const want = Array.from({ length: shards }, (_, i) => `expert-shard-${i}.${serviceName}:${port}`);
  const list = (data.EXPERTMESH_ROUTER_SHARDS ?? "").split(",").map((s) => s.trim());
  if (list.join(",") !== want.join(","))
    out.push(`EXPERTMESH_ROUTER_SHARDS ${JSON.stringify(list.join(","))} is not ${JSON.stringify(want.join(","))}`);
  if (Number(data.EXPERTMESH_ROUTER_REPLICAS ?? 1) !== replicas)
    out.push(`EXPERTMESH_ROUTER_REPLICAS ${data.EXPERTMESH_ROUTER_REPLICAS} differs from EXPERTMESH_SHARD_REPLICAS ${replicas}`);
  if (replicas > shards) out.push(`EXPERTMESH_SHARD_REPLICAS ${replicas} exceeds EXPERTMESH_SHARD_SHARDS ${shards}`);
  const headless = objects.find((o) => o.kind === "Service" && o.metadata.name === serviceName);
  if ((headless?.spec as JsonObject | undefined)?.clusterIP !== "None")
    out.push(`Service/${serviceName}: the StatefulSet's service must be headless (clusterIP None)`);
  const env = (containers(set)[0]?.env ?? []) as JsonObject[];
  if (!env.some((e) => e.name === "EXPERTMESH_SHARD_ID_FROM_HOSTNAME" && e.value === "true"))
    out.push("StatefulSet/expert-shard: the shard id does not come from the pod ordinal (EXPERTMESH_SHARD_ID_FROM_HOSTNAME)");
  const pdb = objects.find(
    (o) => o.kind === "PodDisruptionBudget" && selects((o.spec as JsonObject).selector as JsonObject, podLabels(set)),
  );
  const spec = (pdb?.spec ?? {}) as JsonObject;
  const mayGo =
    spec.maxUnavailable !== undefined
      ? Number(spec.maxUnavailable)
      : spec.minAvailable !== undefined
        ? shards - Number(spec.minAvailable)
        : shards;
  if (pdb && (Number.isNaN(mayGo) || mayGo > replicas - 1)) {
    out.push(
      `PodDisruptionBudget/${pdb.metadata.name}: lets ${String(mayGo)} shards go; with ${replicas} replicas per expert at most ${replicas - 1} may`,
    );
  }
  const hpa = objects.filter((o) => o.kind === "HorizontalPodAutoscaler");
  for (const h of hpa) {
    const ref = (h.spec as JsonObject).scaleTargetRef as JsonObject;
    if (!objects.some((o) => o.kind === ref.kind && o.metadata.name === ref.name))
      out.push(`${id(h)}: scales ${String(ref.kind)}/${String(ref.name)}, which does not exist`);
  }
  return out;
}

/** Where a service runs on CUDA, its pods request an accelerator and select nodes that have one. */
export function acceleratorRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const data = configData(objects);
  for (const w of workloads(objects)) {
    const service = SERVICES[w.metadata.name];
    if (!service || data[`${service.prefix}PROVIDER`] !== "cuda") continue;
    const pod = podSpec(w)!;
    if (!pod.nodeSelector && !pod.affinity) out.push(`${id(w)}: runs on CUDA but selects no accelerator nodes`);
    for (const c of containers(w)) {
      const limits = ((c.resources as JsonObject | undefined)?.limits ?? {}) as JsonObject;
      if (!Object.keys(limits).some((k) => k.endsWith("/gpu")))
        out.push(`${id(w)} container ${String(c.name)}: runs on CUDA but has no accelerator limit`);
    }
  }
  return out;
}

export function allRules(objects: readonly K8sObject[]): string[] {
  return [
    ...containerRules(objects),
    ...labelRules(objects),
    ...coverageRules(objects),
    ...lifecycleRules(objects),
    ...meshRules(objects),
    ...acceleratorRules(objects),
  ];
}
