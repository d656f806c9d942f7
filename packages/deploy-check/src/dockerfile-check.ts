// Static checks of a Dockerfile (no engine needed): multi-stage, base images pinned to a digest or an
// exact x.y.z release, the final stage without build tools and running as a non-root user, the health
// and gRPC ports exposed, and no model weights copied in (the model is mounted at run time).

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) return;
    if (line.startsWith("#")) return;
    if (!pending) start = i + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = pending + line;
    pending = "";
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: start });
  });
  return out;
}

const BUILD_TOOLS = /\b(npm (ci|install|i|rebuild)|npx|tsc|yarn|pnpm|gcc|g\+\+|make|build-essential|python3?|apt-get install|node-gyp)\b/;
const MODEL_FILES = /(^|[\s/])models\/|\.safetensors\b|\.onnx\b|\.bin\b/;

export function checkDockerfile(text: string, opts: { ports: readonly number[] }): string[] {
  const out: string[] = [];
  const instructions = parseDockerfile(text);
  const args = new Map<string, string>();
  const stages: { name?: string; from: string; body: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.op === "ARG" && stages.length === 0) {
      const [k, v] = ins.args.split("=", 2);
      if (v !== undefined) args.set(k.trim(), v.trim());
    } else if (ins.op === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) {
        out.push(`line ${ins.line}: cannot read FROM ${ins.args}`);
        continue;
      }
      const image = m[1].replace(/\$\{?(\w+)\}?/g, (_, k: string) => args.get(k) ?? `$${k}`);
      stages.push({ name: m[2], from: image, body: [] });
    } else stages.at(-1)?.body.push(ins);
  }
  if (stages.length < 2) out.push(`${stages.length} stage(s): the build must be multi-stage`);
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const s of stages) {
    if (names.has(s.from)) continue;
    if (s.from.includes("$")) out.push(`FROM ${s.from}: an ARG without a default`);
    else if (!/@sha256:[0-9a-f]{64}$/.test(s.from) && !/:[^:/]*\d+\.\d+\.\d+[^:/]*$/.test(s.from)) {
      out.push(`FROM ${s.from}: not pinned (want a digest or an exact x.y.z tag)`);
    }
  }
  for (const s of stages) {
    for (const ins of s.body) {
      if ((ins.op === "COPY" || ins.op === "ADD") && MODEL_FILES.test(ins.args.replace(/models\/sotu-moe\/package\.json/g, ""))) {
        out.push(`line ${ins.line}: ${ins.op} ${ins.args}: copies model files into the image (mount the model instead)`);
      }
    }
  }
  const final = stages.at(-1);
  if (final) {
    for (const ins of final.body)
      if (ins.op === "RUN" && BUILD_TOOLS.test(ins.args.replace(/rm -rf [^&;]*/g, "")))
        out.push(`line ${ins.line}: the final stage runs build tools: RUN ${ins.args}`);
    const user = final.body.filter((i) => i.op === "USER").at(-1)?.args;
    if (!user) out.push("the final stage sets no USER (it would run as root)");
    else if (/^(root|0)(:|$)/.test(user)) out.push(`the final stage runs as ${user}`);
    const exposed = new Set(
      final.body.filter((i) => i.op === "EXPOSE").flatMap((i) => i.args.split(/\s+/).map((p) => Number.parseInt(p, 10))),
    );
    for (const p of opts.ports) if (!exposed.has(p)) out.push(`the final stage does not EXPOSE port ${p}`);
  }
  return out;
}
