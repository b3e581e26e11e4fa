/** The gateway's two transitions after its parts are up: begin serving, and drain at shutdown. */
import type { Logger } from '../actors/ports.js';
import type { Cluster } from '../cluster/port.js';
import { CloseCode } from '../protocol/codes.js';
import type { HttpServer } from '../transport/http/http-server.js';
import type { Closers } from './closers.js';
import type { Core } from './core.js';
import type { Listeners } from './listeners.js';

/** Serve at once, or stand by until the serving lease is ours (backup.enabled); then /health is ready. */
export async function serve(cluster: Cluster, http: HttpServer, logger: Logger): Promise<void> {
  http.setServing(false);
  await cluster.start((serving) => {
    http.setServing(serving);
    logger.info({ serving }, serving ? 'serving' : 'standing by');
  });
  http.setServing(cluster.serving);
  http.setReady(true);
}

function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (unref) t.unref();
  });
}

/**
 * Graceful drain within `drainTimeoutMs`: refuse new connections (close 0x12),
 * stop the push API, close every session's connection with 0x12 once its
 * pending frames are flushed, wait for the connections to finish, then close
 * everything the start opened.
 */
export async function drain(
  drainTimeoutMs: number,
  core: Core,
  l: Listeners,
  logger: Logger,
  closers: Closers,
): Promise<void> {
  // Real time, not the sessions' clock: the drain deadline is about this process.
  const deadline = Date.now() + Math.max(0, drainTimeoutMs - 500);
  l.refuseConnections();
  l.http.setDraining();
  logger.info({ sessions: core.system.size, connections: l.listener.connectionCount }, 'draining');
  // No new pushes: producers get UNAVAILABLE and retry elsewhere; calls in flight finish.
  await Promise.race([l.closeGrpc(), sleep(Math.max(0, deadline - Date.now()) / 2, true)]);
  // Every attached session's connection closes with 0x12 once its queued frames are flushed.
  core.system.shutdown();
  l.listener.closeUnbound(CloseCode.SERVER_SHUTDOWN, 'server shutdown');
  while (l.quic.connectionCount > 0 && Date.now() < deadline) await sleep(20);
  if (l.quic.connectionCount > 0) {
    logger.warn({ connections: l.quic.connectionCount }, 'drain deadline: closing the remaining connections');
  }
  await closers.closeAll();
}
