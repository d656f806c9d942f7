// deploy/: every overlay renders (built-in renderer, and `kubectl kustomize` where kubectl is installed,
// which must agree), every object validates against the Kubernetes schemas with no unknown field, and
// the deployment rules hold; deliberately broken copies of the manifests and Dockerfiles fail.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkDockerfile,
  checkRendered,
  configData,
  findKubectl,
  podSpec,
  renderKustomization,
  renderWithKubectl,
  type JsonObject,
  type K8sObject,
} from "./index.js";

const DEPLOY = resolve(dirname(fileURLToPath(import.meta.url)), "../../../deploy");
const kubectl = findKubectl();
const scratch = mkdtempSync(join(tmpdir(), "deploy-check-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A kustomization in the scratch folder: `overlay` plus a component (monitoring by default). */
function withMonitoring(deployDir: string, overlay: string, component = "monitoring"): string {
  const dir = mkdtempSync(join(scratch, `${overlay}-${component}-`));
  const rel = (p: string) => relative(dir, join(deployDir, p));
  writeFileSync(
    join(dir, "kustomization.yaml"),
    [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      `resources:\n  - ${rel(`overlays/${overlay}`)}`,
      `components:\n  - ${rel(`overlays/${component}`)}`,
      "",
    ].join("\n"),
  );
  return dir;
}

const OVERLAYS: [string, (deployDir: string) => string][] = [
  ["base", (d) => join(d, "base")],
  ["dev", (d) => join(d, "overlays/dev")],
  ["gpu", (d) => join(d, "overlays/gpu")],
  ["dev + monitoring", (d) => withMonitoring(d, "dev")],
  ["gpu + monitoring", (d) => withMonitoring(d, "gpu")],
  ["dev + security", (d) => withMonitoring(d, "dev", "security")],
  ["gpu + security", (d) => withMonitoring(d, "gpu", "security")],
];

const byName = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const container = (o: K8sObject) => (podSpec(o)!.containers as JsonObject[])[0];
/** JSON with object keys sorted, objects sorted by kind/name: kubectl reorders both. */
const canonical = (objects: K8sObject[]) => {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sortKeys)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, sortKeys(x)]),
          )
        : v;
  return objects.map((o) => JSON.stringify(sortKeys(o))).sort();
};

for (const [name, dir] of OVERLAYS) {
  test(`${name}: renders, validates against the Kubernetes schemas, and keeps every deployment rule`, async () => {
    const objects = renderKustomization(dir(DEPLOY));
    assert.ok(objects.length >= 20, `${objects.length} objects`);
    assert.deepEqual(await checkRendered(objects), []);
  });

  test(
    `${name}: the built-in renderer prints what kubectl kustomize prints`,
    { skip: kubectl ? false : "kubectl is not installed" },
    () => {
      const d = dir(DEPLOY);
      assert.deepEqual(canonical(renderKustomization(d)), canonical(renderWithKubectl(kubectl!, d)));
    },
  );
}

test("the base: router, predictor, expert-shard StatefulSet (headless), 3-node NATS, HPA, model volume", () => {
  const o = renderKustomization(join(DEPLOY, "base"));
  const kinds = (kind: string) =>
    o
      .filter((x) => x.kind === kind)
      .map((x) => x.metadata.name)
      .sort();
  assert.deepEqual(kinds("Deployment"), ["predictor", "router"]);
  assert.deepEqual(kinds("StatefulSet"), ["expert-shard", "nats"]);
  assert.equal((byName(o, "StatefulSet", "nats").spec as JsonObject).replicas, 3);
  assert.equal((byName(o, "Service", "expert-shard").spec as JsonObject).clusterIP, "None");
  assert.deepEqual(kinds("HorizontalPodAutoscaler"), ["router"]);
  assert.deepEqual(kinds("PersistentVolumeClaim"), ["model"]);
  for (const w of ["router", "predictor", "expert-shard"]) {
    const kind = w === "expert-shard" ? "StatefulSet" : "Deployment";
    const c = container(byName(o, kind, w));
    // gRPC health probes; the model is a read-only mount.
    assert.ok((c.readinessProbe as JsonObject).grpc, `${w} readiness over grpc.health.v1`);
    assert.ok(
      (c.volumeMounts as JsonObject[]).some((m) => m.mountPath === "/models" && m.readOnly === true),
      `${w} mounts /models read-only`,
    );
  }
});

test("gpu: CUDA provider, accelerator limits and node selection, the CUDA image, a larger device budget", () => {
  const base = renderKustomization(join(DEPLOY, "base"));
  const gpu = renderKustomization(join(DEPLOY, "overlays/gpu"));
  const data = configData(gpu);
  assert.equal(data.EXPERTMESH_SHARD_PROVIDER, "cuda");
  assert.equal(data.EXPERTMESH_ROUTER_PROVIDER, "cuda");
  assert.ok(Number.parseFloat(data.EXPERTMESH_SHARD_DEVICE_BUDGET) > Number.parseFloat(configData(base).EXPERTMESH_SHARD_DEVICE_BUDGET));
  for (const [kind, name] of [
    ["StatefulSet", "expert-shard"],
    ["Deployment", "router"],
  ]) {
    const w = byName(gpu, kind, name);
    assert.equal(((container(w).resources as JsonObject).limits as JsonObject)["nvidia.com/gpu"], "1");
    assert.ok(podSpec(w)!.nodeSelector, `${name} selects GPU nodes`);
    assert.match(container(w).image as string, /-cuda12$/);
  }
});

test("dev: CPU only, 2 shards, smaller requests than the base", () => {
  const dev = renderKustomization(join(DEPLOY, "overlays/dev"));
  const data = configData(dev);
  assert.equal(data.EXPERTMESH_SHARD_PROVIDER, "cpu");
  assert.equal(data.EXPERTMESH_SHARD_SHARDS, "2");
  assert.ok(!JSON.stringify(dev).includes("nvidia.com/gpu"));
});

test("monitoring: Prometheus scrape annotations on the router and shard pods, and a policy that lets it in", () => {
  const o = renderKustomization(withMonitoring(DEPLOY, "dev"));
  for (const [kind, name] of [
    ["StatefulSet", "expert-shard"],
    ["Deployment", "router"],
  ]) {
    const annotations = ((((byName(o, kind, name).spec as JsonObject).template as JsonObject).metadata as JsonObject).annotations ??
      {}) as JsonObject;
    assert.equal(annotations["prometheus.io/scrape"], "true");
    assert.equal(annotations["prometheus.io/port"], "9464");
  }
  assert.ok(byName(o, "NetworkPolicy", "metrics"));
});

/** A copy of deploy/ with one file edited; returns the problems of its base. */
async function brokenBase(file: string, edit: (text: string) => string): Promise<string[]> {
  const copy = mkdtempSync(join(scratch, "broken-"));
  cpSync(DEPLOY, copy, { recursive: true });
  const path = join(copy, "base", file);
  const before = readFileSync(path, "utf8");
  const after = edit(before);
  assert.notEqual(after, before, `the edit of ${file} changed nothing`);
  writeFileSync(path, after);
  return checkRendered(renderKustomization(join(copy, "base")));
}

const brokenCases: [string, string, (t: string) => string, RegExp][] = [
  [
    "a container without a readiness probe",
    "deployment-router.yaml",
    (t) => t.replace("readinessProbe:", "# readinessProbe:").replace(/( {10}# readinessProbe:\n)( {12}.*\n)+/, "$1"),
    /container router: no readinessProbe/,
  ],
  [
    "a misspelt field (unknown to the schema)",
    "deployment-router.yaml",
    (t) => t.replace("readinessProbe:", "readinesProbe:"),
    /unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe/,
  ],
  [
    "a field of the wrong type",
    "statefulset-expert-shard.yaml",
    (t) => t.replace("containerPort: 50061", 'containerPort: "fifty"'),
    /containerPort must be integer/,
  ],
  [
    "a container running as root",
    "deployment-predictor.yaml",
    (t) => t.replace("runAsUser: 1000", "runAsUser: 0").replace("runAsNonRoot: true", "runAsNonRoot: false"),
    /predictor container predictor: runAsNonRoot is not true/,
  ],
  [
    "a container without limits",
    "statefulset-expert-shard.yaml",
    (t) => t.replace(/ {12}limits: \{ cpu: "2".*\n/, ""),
    /container expert-shard: no resources\.limits\.cpu/,
  ],
  [
    "a workload without a PDB",
    "poddisruptionbudget-predictor.yaml",
    (t) => t.replace("app.kubernetes.io/name: predictor\n      app", "app.kubernetes.io/name: predictor-old\n      app"),
    /Deployment\/predictor: no PodDisruptionBudget/,
  ],
  [
    "a workload without a NetworkPolicy",
    "networkpolicy-nats.yaml",
    (t) =>
      t.replace(
        "podSelector:\n    matchLabels:\n      app.kubernetes.io/name: nats",
        "podSelector:\n    matchLabels:\n      app.kubernetes.io/name: nats-old",
      ),
    /StatefulSet\/nats: no NetworkPolicy/,
  ],
  [
    "a shard count that disagrees with the StatefulSet",
    "statefulset-expert-shard.yaml",
    (t) => t.replace("replicas: 3", "replicas: 4"),
    /replicas 4 differs from EXPERTMESH_SHARD_SHARDS 3/,
  ],
  [
    "a PDB that lets an expert lose every owner",
    "poddisruptionbudget-expert-shard.yaml",
    (t) => t.replace("maxUnavailable: 1", "maxUnavailable: 2"),
    /lets 2 shards go; with 2 replicas per expert at most 1 may/,
  ],
  [
    "a grace period shorter than the longest generation",
    "deployment-router.yaml",
    (t) => t.replace("terminationGracePeriodSeconds: 105", "terminationGracePeriodSeconds: 30"),
    /terminationGracePeriodSeconds 30 is not longer than the drain timeout 90s/,
  ],
  [
    "a startup probe too short for expert loading",
    "statefulset-expert-shard.yaml",
    (t) => t.replace("failureThreshold: 60 #", "failureThreshold: 3 #"),
    /startup window 15s is shorter than 120s/,
  ],
  [
    "a model volume no pod can write (ReadOnlyMany, as it once was)",
    "persistentvolumeclaim-model.yaml",
    (t) => t.replace("accessModes: [ReadWriteMany]", "accessModes: [ReadOnlyMany]"),
    /PersistentVolumeClaim\/model: accessModes \[ReadOnlyMany\] let no pod write it/,
  ],
  [
    "a service that mounts the model volume read-write",
    "deployment-router.yaml",
    (t) =>
      t.replace(/(\n {10}volumeMounts:\n {12}- \{ name: model, mountPath: \/models), readOnly: true \}(\n {12}- \{ name: tmp)/, "$1 }$2"),
    /Deployment\/router container router: mounts the model volume read-write at \/models/,
  ],
  [
    "a service that starts without checking the model",
    "deployment-predictor.yaml",
    (t) => t.replace("args: [check, $(EXPERTMESH_MODEL_VOLUME_DIR)", "args: [true, $(EXPERTMESH_MODEL_VOLUME_DIR)"),
    /Deployment\/predictor: no initContainer checks the model/,
  ],
  [
    "a loader that does not run the copy-and-check",
    "job-model-loader.yaml",
    (t) => t.replace("args: [load, /model, $(EXPERTMESH_MODEL_VOLUME_DIR)]", "args: [check, /model]"),
    /Job\/model-loader: no container runs \/usr\/local\/bin\/expertmesh-model-volume load/,
  ],
  [
    "no loader at all",
    "kustomization.yaml",
    (t) => t.replace("  - job-model-loader.yaml\n", ""),
    /no Job model-loader: nothing fills the model volume/,
  ],
  [
    "a service model outside the loaded directory",
    "configmap-expertmesh.yaml",
    (t) => t.replace("EXPERTMESH_SHARD_MODEL: /models/sotu-moe", "EXPERTMESH_SHARD_MODEL: /models/other"),
    /EXPERTMESH_SHARD_MODEL \/models\/other is not EXPERTMESH_MODEL_VOLUME_DIR \/models\/sotu-moe/,
  ],
];

for (const [what, file, edit, want] of brokenCases) {
  test(`a broken manifest fails the check: ${what}`, async () => {
    const problems = await brokenBase(file, edit);
    assert.ok(
      problems.some((p) => want.test(p)),
      `want ${want}, got:\n${problems.join("\n")}`,
    );
  });
}

const DOCKERFILES = ["Dockerfile", "Dockerfile.cuda"];
const PORTS = [50051, 50061, 50071, 9464];

for (const f of DOCKERFILES) {
  test(`${f}: multi-stage, pinned bases, non-root, no build tools in the final stage, health ports exposed, no model inside`, () => {
    assert.deepEqual(checkDockerfile(readFileSync(join(DEPLOY, "docker", f), "utf8"), { ports: PORTS }), []);
  });
}

test("a broken Dockerfile fails the check", () => {
  const good = readFileSync(join(DEPLOY, "docker", "Dockerfile"), "utf8");
  const cases: [string, (t: string) => string, RegExp][] = [
    [
      "unpinned base",
      (t) => t.replace("ARG NODE_IMAGE=node:20.20.2-bookworm-slim", "ARG NODE_IMAGE=node:20-slim"),
      /FROM node:20-slim: not pinned/,
    ],
    ["root user", (t) => t.replace("USER 1000:1000", "USER root"), /runs as root/],
    ["no user", (t) => t.replace("USER 1000:1000\n", ""), /sets no USER/],
    [
      "model baked in",
      (t) =>
        t.replace(
          "COPY --chown=root:root deploy/docker/entrypoint.sh",
          "COPY models/sotu-moe /models/sotu-moe\nCOPY --chown=root:root deploy/docker/entrypoint.sh",
        ),
      /copies model files/,
    ],
    ["build tools in the final stage", (t) => t.replace("WORKDIR /app\n", "WORKDIR /app\nRUN npm ci\n"), /final stage runs build tools/],
    ["health port not exposed", (t) => t.replace("EXPOSE 50051 50061 50071 9464", "EXPOSE 50051 50061 50071"), /does not EXPOSE port 9464/],
    ["single stage", (t) => t.slice(t.indexOf("# ---- runtime")), /must be multi-stage/],
  ];
  for (const [what, edit, want] of cases) {
    const broken = edit(good);
    assert.notEqual(broken, good, what);
    const problems = checkDockerfile(broken, { ports: PORTS });
    assert.ok(
      problems.some((p) => want.test(p)),
      `${what}: want ${want}, got ${JSON.stringify(problems)}`,
    );
  }
});

test("security: every service mounts its certificate Secret, probes use the plaintext /healthz, NATS runs its permissions config", () => {
  const o = renderKustomization(withMonitoring(DEPLOY, "dev", "security"));
  const data = configData(o);
  for (const prefix of ["ROUTER", "SHARD", "PREDICTOR"]) {
    assert.equal(data[`EXPERTMESH_${prefix}_TLS_CERT`], "/etc/expertmesh/tls/tls.crt");
    assert.equal(data[`EXPERTMESH_${prefix}_TLS_CA`], "/etc/expertmesh/tls/ca.crt");
  }
  assert.equal(data.EXPERTMESH_SHARD_TLS_ALLOWED_PEERS, "router");
  for (const [kind, name, secret] of [
    ["Deployment", "router", "router-tls"],
    ["StatefulSet", "expert-shard", "expert-shard-tls"],
    ["Deployment", "predictor", "predictor-tls"],
  ] as const) {
    const w = byName(o, kind, name);
    const volumes = podSpec(w)!.volumes as JsonObject[];
    assert.ok(
      volumes.some((v) => (v.secret as JsonObject | undefined)?.secretName === secret),
      `${name} mounts ${secret}`,
    );
    const c = container(w);
    for (const probe of ["startupProbe", "readinessProbe"]) {
      const p = c[probe] as JsonObject;
      assert.equal(p.grpc, undefined, `${name} ${probe}: no plaintext gRPC probe against a TLS port`);
      assert.deepEqual(p.httpGet, { path: "/healthz", port: "metrics" });
    }
  }
  const nats = container(byName(o, "StatefulSet", "nats"));
  assert.deepEqual(nats.args, ["--config=/etc/nats/config/nats.conf"]);
  const conf = (byName(o, "ConfigMap", "nats-config").data as JsonObject)["nats.conf"] as string;
  assert.match(conf, /user: expert-shard[^}]*publish: \{ allow: \["expertmesh\.v1\.shards\.\*"/);
});
