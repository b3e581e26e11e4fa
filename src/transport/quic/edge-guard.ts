/**
 * Admission of new QUIC connections before any connection state exists: the
 * per-source and global bounds on connections and on half-open handshakes, and
 * the switch to stateless retry when new connections arrive too fast. Pure: the
 * server endpoint feeds it addresses and times and does the I/O.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { SlidingWindowCounter } from '../../machines/rate-window.js';

/** Why an Initial was dropped or a connection refused before the application saw it. */
export type EdgeRefusal =
  | 'ip_connections'
  | 'ip_handshakes'
  | 'handshakes'
  | 'max_connections'
  | 'handshake_timeout'
  | 'retry_token_invalid';

export const EDGE_REFUSALS: readonly EdgeRefusal[] = [
  'ip_connections',
  'ip_handshakes',
  'handshakes',
  'max_connections',
  'handshake_timeout',
  'retry_token_invalid',
];

export interface EdgeLimits {
  /** Connections (half-open or established) from one source; 0 = no limit. */
  maxConnectionsPerIp: number;
  /** Handshakes in progress from one source; 0 = no limit. */
  maxHandshakesPerIp: number;
  /** Handshakes in progress from all sources; 0 = no limit. */
  maxHandshakes: number;
  /** Connection state of every kind (the engine's hard bound); 0 = no limit. */
  maxConnections: number;
  /**
   * New connections a second above which an Initial without a token gets a
   * stateless Retry; 0 = always retry, Infinity = never.
   */
  retryAboveRate: number;
}

/**
 * The key one source is limited under: the IPv4 address, or the /64 prefix of an
 * IPv6 address (one subscriber usually holds a whole /64). IPv4-mapped IPv6
 * addresses count as their IPv4 address.
 */
export function sourceKey(host: string): string {
  if (host.startsWith('::ffff:') && isIPv4(host.slice(7))) return host.slice(7);
  if (!isIPv6(host)) return host;
  const [head = '', tail] = host.split('::', 2) as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

interface Source {
  conns: number;
  handshakes: number;
}

export class EdgeGuard {
  private readonly sources = new Map<string, Source>();
  private handshakes = 0;
  private conns = 0;
  private readonly arrivals = new SlidingWindowCounter(1000, 10);

  constructor(private readonly limits: EdgeLimits) {}

  /** Handshakes in progress, all sources. */
  get handshaking(): number {
    return this.handshakes;
  }

  /** Connections tracked (half-open and established). */
  get connections(): number {
    return this.conns;
  }

  /** Sources currently holding connection state (tests, stats). */
  get trackedSources(): number {
    return this.sources.size;
  }

  /** Why a new connection from `key` may not be created now, or null when it may. */
  refusal(key: string): EdgeRefusal | null {
    const l = this.limits;
    const s = this.sources.get(key);
    if (l.maxConnectionsPerIp > 0 && s !== undefined && s.conns >= l.maxConnectionsPerIp)
      return 'ip_connections';
    if (l.maxHandshakesPerIp > 0 && s !== undefined && s.handshakes >= l.maxHandshakesPerIp)
      return 'ip_handshakes';
    if (l.maxHandshakes > 0 && this.handshakes >= l.maxHandshakes) return 'handshakes';
    if (l.maxConnections > 0 && this.conns >= l.maxConnections) return 'max_connections';
    return null;
  }

  /**
   * A new connection attempt (an Initial without a token) arrived at `now` (ms):
   * true when it must first prove its address with a Retry.
   */
  attempt(now: number): boolean {
    const rate = this.limits.retryAboveRate;
    if (rate <= 0) return true;
    if (rate === Number.POSITIVE_INFINITY) return false;
    this.arrivals.add(now);
    return this.arrivals.count(now) > rate;
  }

  /** Connection state was created for `key`; its handshake is in progress. */
  opened(key: string): void {
    let s = this.sources.get(key);
    if (s === undefined) {
      s = { conns: 0, handshakes: 0 };
      this.sources.set(key, s);
    }
    s.conns++;
    s.handshakes++;
    this.conns++;
    this.handshakes++;
  }

  /** The handshake of a connection from `key` completed. */
  established(key: string): void {
    const s = this.sources.get(key);
    if (s === undefined || s.handshakes === 0) return;
    s.handshakes--;
    this.handshakes--;
  }

  /** A connection from `key` is gone; `halfOpen` when its handshake never completed. */
  closed(key: string, halfOpen: boolean): void {
    const s = this.sources.get(key);
    if (s === undefined) return;
    if (halfOpen && s.handshakes > 0) {
      s.handshakes--;
      this.handshakes--;
    }
    if (s.conns > 0) {
      s.conns--;
      this.conns--;
    }
    if (s.conns === 0) this.sources.delete(key);
  }
}
