/**
 * CPU time used by the processes of a run (Linux /proc; elsewhere nothing), so each row can say
 * how much CPU one request cost in workerd (the Worker plus, locally, the D1/R2 simulators) and in
 * the origin. On a machine whose cores are all busy, CPU per request is steadier than requests/s.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

function ticks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return null;
  }
}

/** This process's children by name: { workerd: [pids], node: [pids] }. */
export function children() {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    const by = {};
    for (const line of out.trim().split('\n')) {
      const [pid, comm] = line.trim().split(/\s+/);
      if (pid && comm) (by[comm] ??= []).push(Number(pid));
    }
    return by;
  } catch {
    return {};
  }
}

/** Starts a CPU meter over named groups of pids; stop(requests) gives CPU ms per request for each. */
export function cpuMeter(groups) {
  const read = () => Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, p) => sum + (ticks(p) ?? 0), 0)]));
  const before = read();
  const self = process.cpuUsage();
  return {
    stop(requests) {
      const after = read();
      const out = {};
      for (const name of Object.keys(groups)) out[name] = requests ? Math.round((((after[name] - before[name]) * TICK_MS) / requests) * 100) / 100 : null;
      const used = process.cpuUsage(self);
      out.load_generator = requests ? Math.round(((used.user + used.system) / 1000 / requests) * 100) / 100 : null;
      return out;
    },
  };
}

/**
 * Waits until the processes are nearly idle (under 10% of a core for two 300 ms samples in a
 * row), at most `maxMs`.
 * wrk stops at its deadline and closes its connections, but workerd still finishes the requests
 * that were in flight (an n=4 miss at 50 connections is minutes of work on 2 cores); without the
 * wait, the next row would measure that backlog. Answers how long it waited.
 */
export async function waitIdle(pids, maxMs = 30_000) {
  const total = () => pids.reduce((sum, p) => sum + (ticks(p) ?? 0), 0);
  const started = Date.now();
  let last = total();
  let quiet = 0; // two quiet samples in a row: requests waiting on a slow origin are not CPU
  while (quiet < 2 && Date.now() - started < maxMs) {
    await new Promise((r) => setTimeout(r, 300));
    const now = total();
    quiet = (now - last) * TICK_MS <= 30 ? quiet + 1 : 0;
    last = now;
  }
  return Date.now() - started;
}
