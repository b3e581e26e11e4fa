/**
 * Readings from /proc that benchmarks report beside their rates: a process's CPU
 * and run-queue wait, kernel UDP receive-buffer drops, the load average. Each is 0
 * where /proc is unavailable.
 */
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) of a process, from /proc (0 where unavailable). */
export function procCpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** UDP datagrams the kernel dropped for a full receive buffer (whole machine; 0 where unavailable). */
export function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const names = lines[0]!.split(/\s+/);
    return Number(lines[1]!.split(/\s+/)[names.indexOf('RcvbufErrors')]);
  } catch {
    return 0;
  }
}

/** Seconds the process's main thread waited on a run queue (runnable, not running): CPU starvation. */
export function runQueueWaitSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return 0;
  }
}

export function loadAverage1m(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}
