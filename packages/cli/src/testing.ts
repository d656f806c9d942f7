// Shared by the CLI's tests: the `expertmesh` binary run as users run it, a child process.
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const CLI_BIN = join(dirname(fileURLToPath(import.meta.url)), "main.js");

/** Runs `expertmesh ...args`; resolves with its exit code, stdout and stderr (never rejects on a non-zero exit). */
export async function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI_BIN, ...args], { maxBuffer: 64 * 2 ** 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
