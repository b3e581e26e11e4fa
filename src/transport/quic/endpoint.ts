/**
 * Shared machinery of the server and client endpoints: the per-turn flush of
 * dirty connections, the packet arena, and one timer for the earliest quiche
 * deadline across all connections.
 */

import { randomBytes } from 'node:crypto';
import type { ConnDriver, QuicConn } from './connection.js';
import { CID_LEN, MAX_DATAGRAM, type NativeSendInfo } from './native.js';
import { TimerHeap } from './timer-heap.js';
import type { CloseInfo } from './types.js';

const ARENA_BYTES = 256 * 1024;

export abstract class Endpoint implements ConnDriver {
  /** Scratch buffer for stream reads (data is copied out before delivery). */
  readonly scratch = Buffer.allocUnsafe(64 * 1024);
  protected readonly heap = new TimerHeap<QuicConn>();
  private dirtyList: QuicConn[] = [];
  private spareList: QuicConn[] = [];
  private flushScheduled = false;
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private arenaOff = 0;

  /** Largest datagram quiche may write. */
  constructor(protected readonly maxDatagram: number = MAX_DATAGRAM) {}

  /** Put one packet on the wire. */
  protected abstract transmit(buf: Buffer, off: number, len: number, info: NativeSendInfo): void;
  /** True when no socket of this endpoint holds queued (not yet sent) datagrams. */
  protected abstract sendQueuesIdle(): boolean;
  /** The handshake completed. */
  abstract established(conn: QuicConn): void;
  /** Server: the client's session stream appeared. */
  abstract sessionOpened(conn: QuicConn): void;
  /** The connection is gone for the application (before conn.onClose). */
  abstract connClosed(conn: QuicConn, info: CloseInfo): void;
  /** quiche reports the connection closed: release routing state. */
  abstract finalized(conn: QuicConn): void;
  /** Per-flush hook for path events and connection-id upkeep. */
  abstract maintainPaths(conn: QuicConn): void;

  /**
   * Hand the peer spare connection ids, as a path change needs a fresh id on
   * each side. `onCid` sees every id issued (for routing).
   */
  protected issueCids(conn: QuicConn, spares: number, onCid?: (cid: Buffer) => void): void {
    const q = conn.q;
    for (let i = 0; i < spares && q.sourceCidsLeft() > 0; i++) {
      const cid = randomBytes(CID_LEN);
      try {
        q.newSourceCid(cid, BigInt(`0x${randomBytes(16).toString('hex')}`), false);
      } catch {
        return;
      }
      onCid?.(cid);
    }
  }

  markDirty(conn: QuicConn): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirtyList.push(conn);
    if (!this.flushScheduled && !this.flushing) {
      this.flushScheduled = true;
      setImmediate(this.onImmediate);
    }
  }

  private readonly onImmediate = (): void => {
    this.flushScheduled = false;
    this.flushNow();
  };

  /** Flush every dirty connection now (normally once per event-loop turn). */
  flushNow(): void {
    if (this.flushing) return;
    this.flushing = true;
    let failure: { e: unknown } | undefined;
    try {
      if (this.arenaOff > 0 && !this.sendQueuesIdle()) {
        // Queued datagrams still reference the arena: start a fresh one.
        this.arena = Buffer.allocUnsafe(ARENA_BYTES);
      }
      if (this.arenaOff > 0) this.view = null;
      this.arenaOff = 0;
      while (this.dirtyList.length > 0) {
        const list = this.dirtyList;
        this.dirtyList = this.spareList;
        for (let i = 0; i < list.length; i++) {
          const c = list[i]!;
          c.dirty = false;
          try {
            c.flush();
          } catch (e) {
            // An application callback threw: finish the turn for every other
            // connection, then let the error surface as uncaught.
            failure ??= { e };
          }
        }
        list.length = 0;
        this.spareList = list;
      }
    } finally {
      this.flushing = false;
    }
    this.armTimer();
    if (failure !== undefined) throw failure.e;
  }

  /**
   * The arena slice quiche writes the next packet into. Most sendAll calls end
   * with a send that produced nothing; the slice is then reused by the next
   * connection instead of allocating a fresh view per connection per flush.
   */
  private view: Buffer | null = null;

  /** Drain quiche's outgoing packets for `conn`. */
  sendAll(conn: QuicConn): void {
    const q = conn.q;
    for (;;) {
      const max = this.maxDatagram;
      if (this.arena.length - this.arenaOff < max) {
        this.arena = Buffer.allocUnsafe(ARENA_BYTES);
        this.arenaOff = 0;
        this.view = null;
      }
      const off = this.arenaOff;
      const view = this.view ?? this.arena.subarray(off, off + max);
      this.view = view;
      let r: [number, NativeSendInfo] | null;
      try {
        r = q.send(view);
      } catch {
        return;
      }
      if (r === null) return;
      this.view = null;
      const len = r[0];
      this.arenaOff = off + len;
      try {
        this.transmit(this.arena, off, len, r[1]);
      } catch {
        // A socket error loses this packet; QUIC recovers.
      }
    }
  }

  updateTimer(conn: QuicConn): void {
    const t = conn.q.timeout();
    if (t === null) this.heap.remove(conn);
    else this.heap.set(conn, performance.now() + t);
  }

  removeTimer(conn: QuicConn): void {
    this.heap.remove(conn);
  }

  private armTimer(): void {
    const top = this.heap.peek();
    if (top === undefined) {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
        this.timerAt = Number.POSITIVE_INFINITY;
      }
      return;
    }
    if (this.timer !== null && top.deadline >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = top.deadline;
    const delay = Math.max(0, Math.ceil(top.deadline - performance.now()));
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now() + 0.5;
    for (;;) {
      const c = this.heap.popDue(now);
      if (c === undefined) break;
      try {
        c.q.onTimeout();
      } catch {
        // ignore: state is checked at flush
      }
      this.markDirtyQuiet(c);
    }
    this.flushNow();
  };

  /** Mark dirty without scheduling a flush (caller flushes). */
  private markDirtyQuiet(conn: QuicConn): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirtyList.push(conn);
  }

  protected stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}

/** A dgram lookup that resolves IP literals synchronously, so sends are not deferred. */
export function syncLookup(
  address: string,
  family: unknown,
  cb: (err: Error | null, address: string, family: number) => void,
): void {
  const fam = typeof family === 'number' ? family : address.includes(':') ? 6 : 4;
  cb(null, address, fam);
}
