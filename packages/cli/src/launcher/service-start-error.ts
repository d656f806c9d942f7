// A service of the local mesh that exited while starting. Its message is the service's own error (the
// `error` of its last error-level JSON log line, or its last output line), so that `up` reports
// "router: model.safetensors: not found" and not "internal error"; the whole output tail is kept.
export class ServiceStartError extends Error {
  override readonly name = "ServiceStartError";

  constructor(
    readonly service: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`${service} failed to start${exitCode === null || exitCode === -1 ? " (killed by a signal)" : ""}: ${lastError(output)}`);
  }
}

function lastError(output: string): string {
  const lines = output.split("\n").filter((l) => l.trim() !== "");
  for (const line of [...lines].reverse()) {
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string; error?: string; message?: string };
      if (j.level === "error" || j.level === "fatal") return j.error ?? j.message ?? j.msg ?? line;
    } catch {
      // not a JSON log line
    }
  }
  // An uncaught exception: the "SomeError: message" line of its stack.
  const thrown = [...lines].reverse().find((l) => /^[A-Za-z]*Error( \[\w+\])?: /.test(l));
  return thrown ?? lines.at(-1) ?? "no output";
}
