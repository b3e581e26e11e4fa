/**
 * The JetStream event log: one stream for the gateway cluster, one subject per
 * session (P.events.<sessionId>), one message per append.
 *
 * - Pipelined and batched: the appends of one event-loop turn are published
 *   together; each append's promise resolves when its publish ack arrives.
 * - Every message carries a unique Nats-Msg-Id, so a publish retried after a
 *   lost ack is stored once (stream duplicate window).
 * - A failed publish (server down, timeout) is retried until it is stored: the
 *   actor keeps everything after it (frames, producer answers) until then, so
 *   nothing is acknowledged that could be lost. Producers are refused with 503
 *   meanwhile (`available()`).
 * - Compaction: a session's first append from this process, and any append
 *   once the session wrote enough since its last snapshot, is a snapshot of
 *   the live state (`snapshotEvents`) published with `Nats-Rollup: sub`, which
 *   makes the stream drop everything older on that subject.
 * - `forget` purges the subject.
 */
import { randomUUID } from 'node:crypto';
import { headers, type JetStreamClient, type JetStreamManager, type MsgHdrs } from 'nats';
import type { EventLog } from '../../actors/ports.js';
import { type SessionEvent, type SessionState, snapshotEvents } from '../../machines/session-state.js';
import { encodeEventRecord } from './event-codec.js';
import type { NatsNames } from './subjects.js';

export interface JetStreamEventLogOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: NatsNames;
  /** Appends of a session between snapshots (at least; grows with snapshot size). */
  compactEvery?: number;
  publishTimeoutMs?: number;
  logger?: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

interface Pending {
  subject: string;
  data: Uint8Array;
  snapshot: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const MIN_COMPACT = 256;

export class JetStreamEventLog implements EventLog {
  private readonly instance = randomUUID().slice(0, 8);
  private nextId = 1;
  private queue: Pending[] = [];
  private scheduled = false;
  /** Events written per session since its last snapshot, and the threshold for the next one. */
  private readonly written = new Map<string, { count: number; compactAt: number }>();
  private stateOf: ((sessionId: string) => SessionState | undefined) | null = null;
  private closed = false;
  private failingSince = 0;
  private connected = true;
  private inflight = 0;
  private readonly rollup: MsgHdrs;
  /** Counters for stats and benchmarks. */
  readonly stats = { appends: 0, messages: 0, snapshots: 0, retries: 0, batches: 0 };

  constructor(private readonly opts: JetStreamEventLogOptions) {
    this.rollup = headers();
    this.rollup.set('Nats-Rollup', 'sub');
  }

  /**
   * Live session states, for snapshots: when `append` is called the live state
   * is exactly the stored state plus this append (the actor appends everything
   * it applied before running anything else).
   */
  bindStates(stateOf: (sessionId: string) => SessionState | undefined): void {
    this.stateOf = stateOf;
  }

  /** The connection is up and stores succeed: producers' pushes may be accepted. */
  available(): boolean {
    return !this.closed && this.connected && this.failingSince === 0;
  }

  setConnected(up: boolean): void {
    this.connected = up;
  }

  /** Appends published and not yet acknowledged. */
  get pendingAppends(): number {
    return this.inflight + this.queue.length;
  }

  append(sessionId: string, events: readonly SessionEvent[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('event log closed'));
    this.stats.appends++;
    let w = this.written.get(sessionId);
    let snapshot = false;
    let stored = events;
    if (!w || w.count + events.length >= w.compactAt) {
      const live = this.stateOf?.(sessionId);
      if (live) {
        stored = snapshotEvents(live);
        snapshot = true;
      }
      w ??= { count: 0, compactAt: MIN_COMPACT };
      if (snapshot) {
        w.count = stored.length;
        w.compactAt = Math.max(this.opts.compactEvery ?? MIN_COMPACT, stored.length * 2);
      } else w.count += events.length;
      this.written.set(sessionId, w);
    } else {
      w.count += events.length;
    }
    const data = encodeEventRecord(stored, snapshot);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ subject: this.opts.names.events(sessionId), data, snapshot, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async forget(sessionId: string): Promise<void> {
    this.written.delete(sessionId);
    if (this.closed) return;
    try {
      await this.opts.jsm.streams.purge(this.opts.names.eventsStream, {
        filter: this.opts.names.events(sessionId),
      });
    } catch (err) {
      this.opts.logger?.warn({ sessionId, err: String(err) }, 'could not purge session events');
    }
  }

  /** A session moved away (hand-off): the next append from here starts with a snapshot again. */
  release(sessionId: string): void {
    this.written.delete(sessionId);
  }

  close(): void {
    this.closed = true;
    const q = this.queue;
    this.queue = [];
    for (const p of q) p.reject(new Error('event log closed'));
  }

  /** Publish every append of this turn together (pipelined on one connection). */
  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.stats.batches++;
    for (const p of batch) void this.publish(p);
  }

  private async publish(p: Pending): Promise<void> {
    const msgID = `${this.instance}.${this.nextId++}`;
    this.inflight++;
    let delay = 50;
    try {
      for (;;) {
        if (this.closed) {
          p.reject(new Error('event log closed'));
          return;
        }
        try {
          await this.opts.js.publish(p.subject, p.data, {
            msgID,
            timeout: this.opts.publishTimeoutMs ?? 5_000,
            ...(p.snapshot ? { headers: this.rollup } : {}),
          });
          this.stats.messages++;
          if (p.snapshot) this.stats.snapshots++;
          if (this.failingSince !== 0) {
            this.opts.logger?.info({ failedForMs: Date.now() - this.failingSince }, 'event log stores again');
            this.failingSince = 0;
          }
          p.resolve();
          return;
        } catch (err) {
          if (this.closed) {
            p.reject(err);
            return;
          }
          if (this.failingSince === 0) {
            this.failingSince = Date.now();
            this.opts.logger?.warn(
              { err: String(err) },
              'event log store failed; retrying (producers get 503)',
            );
          }
          this.stats.retries++;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 1_000);
        }
      }
    } finally {
      this.inflight--;
    }
  }
}
