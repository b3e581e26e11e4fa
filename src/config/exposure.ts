/**
 * Which listeners are reachable off-host without authentication: decided from the
 * configured address alone (a host name other than localhost counts as reachable).
 */
import { isIPv4 } from 'node:net';
import { parseAddr } from './schema.js';

/** True for localhost, 127.0.0.0/8 and ::1 (also IPv4-mapped); "" (all interfaces) is not. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}

export interface PushApiGuard {
  grpcAddr: string;
  token: boolean;
  mtls: boolean;
}

/**
 * Why the push API accepts unauthenticated pushes from other hosts, or null when it
 * does not (bound to loopback, or a token or mTLS guards it).
 */
export function openPushApi(g: PushApiGuard): string | null {
  if (g.token || g.mtls) return null;
  const { host } = parseAddr(g.grpcAddr);
  if (isLoopbackHost(host)) return null;
  return `server.grpc_addr ${JSON.stringify(g.grpcAddr)} is reachable from other hosts and neither push_api.token nor mTLS (push_api.client_ca_file) is set: anyone who reaches it can push anything to any client`;
}
