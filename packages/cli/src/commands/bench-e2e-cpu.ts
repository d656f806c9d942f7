// CPU time of the mesh's processes over a measured run, from /proc/<pid>/stat (user + system, every
// thread of the process: workers included). Linux only; elsewhere the figures are null.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_S = 100;

/** User + system CPU milliseconds that process `pid` has used so far, or undefined when unreadable. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces and parentheses): state is field 3,
    // utime field 14 and stime field 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

/** Named processes' CPU ms, sampled now. */
export type CpuSample = Record<string, number | undefined>;

export function sampleCpu(pids: Readonly<Record<string, number[]>>): CpuSample {
  const out: CpuSample = {};
  for (const [name, list] of Object.entries(pids)) {
    let sum = 0;
    for (const pid of list) {
      const ms = processCpuMs(pid);
      if (ms === undefined) {
        sum = NaN;
        break;
      }
      sum += ms;
    }
    out[name] = Number.isFinite(sum) ? sum : undefined;
  }
  return out;
}

/** CPU ms per output token of each named process group between two samples (null where unreadable). */
export function cpuMsPerToken(before: CpuSample, after: CpuSample, tokens: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const name of Object.keys(after)) {
    const a = after[name];
    const b = before[name];
    out[name] = a === undefined || b === undefined || tokens <= 0 ? null : (a - b) / tokens;
  }
  return out;
}
