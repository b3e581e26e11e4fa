/**
 * Last-resort cleanup for helpers that spawn servers: children still alive and
 * temporary directories still present when this process exits (a test timed out,
 * a run threw, Ctrl-C) are killed with SIGKILL and removed, synchronously in the
 * 'exit' handler. Normal paths clean up themselves and unregister.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function reap(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', reap);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only when nobody else handles the signal: then the default would exit without 'exit'.
    process.once(sig, () => {
      reap();
      if (process.listenerCount(sig) === 0)
        process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Kill this child when the process exits (it is forgotten once it exits). */
export function reapOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Remove this directory when the process exits, unless `forgetDir` was called. */
export function removeOnExit(dir: string): void {
  install();
  dirs.add(dir);
}

export function forgetDir(dir: string): void {
  dirs.delete(dir);
}
