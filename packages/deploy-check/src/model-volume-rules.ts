// The model volume's story, as deploy/README.md tells it: the claim `model` can be written (the loader needs
// a write mode), the Job `model-loader` is its only writer and runs `expertmesh-model-volume load` into
// EXPERTMESH_MODEL_VOLUME_DIR, every other pod mounts it read-only and checks the directory in an
// initContainer (`expertmesh-model-volume check`) before its service starts, and the services' model
// settings point into that directory. Each problem is one line naming the object and what to fix.
import { podSpec, type K8sObject } from "./kustomize.js";
import { configData, securityRules } from "./rules.js";
import type { JsonObject } from "./strategic-merge.js";

const CLAIM = "model";
const LOADER = "model-loader";
/** The script (deploy/docker/model-volume.sh) where both images install it. */
export const MODEL_VOLUME_SCRIPT = "/usr/local/bin/expertmesh-model-volume";
const DIR_KEY = "EXPERTMESH_MODEL_VOLUME_DIR";
const WRITE_MODES = ["ReadWriteMany", "ReadWriteOnce"];

const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
const list = (v: unknown) => (v ?? []) as JsonObject[];
const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir.replace(/\/$/, "")}/`);

/** A container's command line with $(VAR) replaced from its env and the ConfigMap it reads. */
function commandLine(c: JsonObject, data: Record<string, string>): string[] {
  const env: Record<string, string> = {};
  if (list(c.envFrom).some((e) => (e.configMapRef as JsonObject | undefined)?.name === "expertmesh")) Object.assign(env, data);
  for (const e of list(c.env)) if (typeof e.value === "string") env[e.name as string] = e.value;
  return [...((c.command ?? []) as string[]), ...((c.args ?? []) as string[])].map((a) =>
    String(a).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k: string) => env[k] ?? m),
  );
}

export function modelVolumeRules(objects: readonly K8sObject[]): string[] {
  const out: string[] = [];
  const claim = objects.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === CLAIM);
  if (!claim) return [`no PersistentVolumeClaim ${CLAIM} (the model volume)`];
  const modes = ((claim.spec as JsonObject).accessModes ?? []) as string[];
  if (!modes.some((m) => WRITE_MODES.includes(m)))
    out.push(
      `${id(claim)}: accessModes [${modes.join(", ")}] let no pod write it; the ${LOADER} Job needs ReadWriteMany (ReadWriteOnce on a one-node cluster)`,
    );
  const data = configData(objects);
  const dir = data[DIR_KEY];
  if (!dir) return [...out, `ConfigMap expertmesh: no ${DIR_KEY} (the directory the ${LOADER} Job fills)`];
  for (const key of ["EXPERTMESH_ROUTER_MODEL", "EXPERTMESH_SHARD_MODEL"])
    if (data[key] !== undefined && data[key].replace(/\/$/, "") !== dir.replace(/\/$/, ""))
      out.push(`ConfigMap expertmesh: ${key} ${data[key]} is not ${DIR_KEY} ${dir} (the directory the ${LOADER} Job loads and checks)`);
  const predictor = data.EXPERTMESH_PREDICTOR_PREDICTOR;
  if (predictor !== undefined && !under(predictor, dir))
    out.push(`ConfigMap expertmesh: EXPERTMESH_PREDICTOR_PREDICTOR ${predictor} is not inside ${DIR_KEY} ${dir}`);

  const loader = objects.find((o) => o.kind === "Job" && o.metadata.name === LOADER);
  if (!loader) out.push(`no Job ${LOADER}: nothing fills the model volume`);
  for (const o of objects) {
    const pod = podSpec(o);
    if (!pod) continue;
    const volumes = list(pod.volumes).filter((v) => (v.persistentVolumeClaim as JsonObject | undefined)?.claimName === CLAIM);
    if (volumes.length === 0) continue;
    const names = new Set(volumes.map((v) => v.name as string));
    const isLoader = o === loader;
    const mounts = (c: JsonObject) => list(c.volumeMounts).filter((m) => names.has(m.name as string));
    const containers = list(pod.containers);
    const inits = list(pod.initContainers);
    if (!isLoader) {
      for (const v of volumes)
        if ((v.persistentVolumeClaim as JsonObject).readOnly !== true)
          out.push(`${id(o)}: volume ${String(v.name)} claims ${CLAIM} without readOnly: true (only the ${LOADER} Job writes it)`);
      for (const c of [...inits, ...containers])
        for (const m of mounts(c))
          if (m.readOnly !== true)
            out.push(
              `${id(o)} container ${String(c.name)}: mounts the model volume read-write at ${String(m.mountPath)} (only the ${LOADER} Job writes it)`,
            );
      for (const c of containers)
        for (const m of mounts(c))
          if (!under(dir, m.mountPath as string))
            out.push(`${id(o)} container ${String(c.name)}: mounts the model volume at ${String(m.mountPath)}, which does not hold ${dir}`);
      const check = inits.find((c) => {
        const line = commandLine(c, data);
        return (
          line[0] === MODEL_VOLUME_SCRIPT &&
          line[1] === "check" &&
          line[2] === dir &&
          mounts(c).some((m) => under(dir, m.mountPath as string))
        );
      });
      if (!check)
        out.push(
          `${id(o)}: no initContainer checks the model before the service starts (${MODEL_VOLUME_SCRIPT} check $(${DIR_KEY}) with the volume mounted)`,
        );
      else out.push(...securityRules((pod.securityContext ?? {}) as JsonObject, check, `${id(o)} initContainer ${String(check.name)}`));
      continue;
    }
    const load = containers.find((c) => {
      const line = commandLine(c, data);
      return line[0] === MODEL_VOLUME_SCRIPT && line[1] === "load" && line[3] === dir;
    });
    if (!load) {
      out.push(`${id(o)}: no container runs ${MODEL_VOLUME_SCRIPT} load SRC $(${DIR_KEY}) (copy, then check every file's checksum)`);
      continue;
    }
    if (!mounts(load).some((m) => m.readOnly !== true && under(dir, m.mountPath as string)))
      out.push(`${id(o)} container ${String(load.name)}: does not mount the model volume read-write at a path holding ${dir}`);
    for (const v of volumes)
      if ((v.persistentVolumeClaim as JsonObject).readOnly === true)
        out.push(`${id(o)}: volume ${String(v.name)} is read-only: the loader cannot write`);
    if (!["OnFailure", "Never"].includes(pod.restartPolicy as string))
      out.push(`${id(o)}: restartPolicy ${String(pod.restartPolicy)} (a Job's pod restarts OnFailure or Never)`);
    out.push(...securityRules((pod.securityContext ?? {}) as JsonObject, load, `${id(o)} container ${String(load.name)}`));
    const resources = (load.resources ?? {}) as Record<string, Record<string, unknown> | undefined>;
    for (const kind of ["requests", "limits"])
      for (const r of ["cpu", "memory"])
        if (resources[kind]?.[r] === undefined) out.push(`${id(o)} container ${String(load.name)}: no resources.${kind}.${r}`);
  }
  return out;
}
