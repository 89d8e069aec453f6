/**
 * What the bench reads from /proc: CPU time and resident memory of the
 * processes it started (the steadiest figures on a shared machine), the open
 * file limit, and a description of the machine for the report.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

let clockTicks;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
export function clkTck() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of one process in milliseconds, or null when it is gone. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clkTck();
  } catch {
    return null;
  }
}

/** User and system CPU milliseconds of one process (utime, stime), or null when it is gone. */
export function cpuSplitMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: (Number(fields[11]) * 1000) / clkTck(), system: (Number(fields[12]) * 1000) / clkTck() };
  } catch {
    return null;
  }
}

/** Summed user and system CPU milliseconds of several processes. */
export function totalCpuSplitMs(pids) {
  const total = { user: 0, system: 0 };
  for (const pid of pids) {
    const split = cpuSplitMs(pid);
    if (split) {
      total.user += split.user;
      total.system += split.system;
    }
  }
  return total;
}

/** Summed CPU milliseconds of several processes. */
export function totalCpuMs(pids) {
  let sum = 0;
  for (const pid of pids) sum += cpuMs(pid) ?? 0;
  return sum;
}

/** Read and write system calls made so far by several processes (/proc/<pid>/io), summed. */
export function totalSyscalls(pids) {
  const total = { reads: 0, writes: 0 };
  for (const pid of pids) {
    try {
      const io = readFileSync(`/proc/${pid}/io`, "utf8");
      total.reads += Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? 0);
      total.writes += Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? 0);
    } catch {
      // gone, or /proc/<pid>/io not readable here: counts stay as they are
    }
  }
  return total;
}

/** VmRSS of a process in KiB, or null when it is gone. */
export function rssKiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit() {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return match && match[1] !== "unlimited" ? Number(match[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

export function machineInfo() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {
    // not Linux: keep os.cpus()'s model
  }
  return {
    cores: cpus().length,
    cpuModel: model,
    node: process.version,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadAvg: loadavg().map((x) => Math.round(x * 100) / 100),
    openFileLimit: openFileLimit(),
  };
}

/**
 * CPU milliseconds of a process to the nanosecond: the sum over its threads of /proc/<pid>/task/<tid>/schedstat's
 * time on CPU (utime and stime count 10 ms ticks, too coarse for a node that should be nearly idle). Threads that
 * have exited are not counted; null when the process is gone.
 */
export function preciseCpuMs(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread exited meanwhile
      }
    }
    return ns / 1e6;
  } catch {
    return null;
  }
}
