/**
 * A closed-loop load generator: `slots` callers, each issuing its next call as
 * soon as the previous one finished. Warm up, then count completions and
 * latencies over a wall-clock window, with the CPU of every process involved.
 */
import type { BenchChild } from './child.js';
import { cpuNow, percentile, sortedCopy } from './stack.js';

export interface LoadResult {
  done: number;
  errors: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  /** µs of CPU per completed call, per process (this one is `client`). */
  cpuPerCall: Record<string, number>;
}

export async function closedLoop(
  slots: number,
  call: (slot: number) => Promise<unknown>,
  seconds: number,
  children: Record<string, BenchChild>,
  warmupMs = 800,
): Promise<LoadResult> {
  let measuring = false;
  let stopping = false;
  let done = 0;
  let errors = 0;
  let firstError: unknown = null;
  const lat: number[] = [];
  const loop = async (slot: number) => {
    while (!stopping) {
      const t = performance.now();
      try {
        await call(slot);
        if (measuring) {
          done++;
          lat.push(performance.now() - t);
        }
      } catch (e) {
        firstError ??= e;
        if (measuring) errors++;
        if (stopping) return;
      }
    }
  };
  const loops = Array.from({ length: slots }, (_, i) => loop(i));
  await new Promise((r) => setTimeout(r, warmupMs));
  const names = Object.keys(children);
  const before = await Promise.all(names.map((n) => children[n]!.stats()));
  const c0 = cpuNow();
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const c1 = cpuNow();
  const after = await Promise.all(names.map((n) => children[n]!.stats()));
  stopping = true;
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
  if (done === 0 && firstError) throw firstError;
  const s = sortedCopy(lat);
  const cpuPerCall: Record<string, number> = { client: (c1 - c0) / Math.max(1, done) };
  names.forEach((n, i) => {
    cpuPerCall[n] = (after[i]!.cpuUs - before[i]!.cpuUs) / Math.max(1, done);
  });
  return {
    done,
    errors,
    seconds: elapsed,
    rate: done / elapsed,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    cpuPerCall,
  };
}
