/**
 * The JetStream event log: one stream for the gateway cluster, one subject per
 * session (P.events.<sessionId>), one message per stored batch of a session.
 *
 * - One chain per session: at most one message of a session is in flight;
 *   whatever the session appends meanwhile is merged into its next message
 *   (consecutive `acked` events coalesced: only the highest counts). Messages
 *   of different sessions are pipelined: the appends of one event-loop turn
 *   are published together on one connection.
 * - Only appends that `holdsBackEffects` (ports.ts) return a promise, resolved
 *   once their message is stored. The others (`acked`, `detached`) return
 *   nothing: the actor does not wait for them, they are still stored in order
 *   with the session's other events. `detached` goes out this turn; `acked` alone lingers up to `ackLingerMs` to ride along with the
 *   session's next message (usually its next push), so a client's ACKs cost
 *   almost no messages of their own.
 * - Every message carries a unique Nats-Msg-Id, so a publish retried after a
 *   lost ack is stored once (stream duplicate window).
 * - A failed publish (server down, timeout) is retried until it is stored: the
 *   actor keeps everything after it (frames, producer answers) until then, so
 *   nothing is acknowledged that could be lost. Producers are refused with 503
 *   meanwhile (`available()`).
 * - Compaction: a session's first append from this process, and any append
 *   once the session wrote enough since its last snapshot, is a snapshot of
 *   the live state (`snapshotEvents`) published with `Nats-Rollup: sub`, which
 *   makes the stream drop everything older on that subject. The snapshot
 *   replaces the session's events not yet published (the live state has them).
 * - `forget` purges the subject once the session's messages are stored.
 */
import { randomUUID } from 'node:crypto';
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { type EventLog, holdsBackEffects } from '../../actors/ports.js';
import { type SessionEvent, type SessionState, snapshotEvents } from '../../machines/session-state.js';
import { encodeEventRecord } from './event-codec.js';
import { StreamPublisher } from './stream-publisher.js';
import type { NatsNames } from './subjects.js';

export interface JetStreamEventLogOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** When given, messages go out through a lean pipelined publisher (stream-publisher.ts), not `js.publish`. */
  nc?: NatsConnection;
  names: NatsNames;
  /** Appends of a session between snapshots (at least; grows with snapshot size). */
  compactEvery?: number;
  publishTimeoutMs?: number;
  /** How long a session's lone `acked` events wait for a message to ride along with (ms, default 100). */
  ackLingerMs?: number;
  logger?: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What one session has to store: its next message, and whether one is in flight. */
interface Chain {
  readonly subject: string;
  /** Events of the next message, in order. */
  events: SessionEvent[];
  /** The next message is a snapshot (rollup). */
  snapshot: boolean;
  /** Appends that wait for the next message to be stored. */
  waiters: Waiter[];
  /** The next message goes out this turn (it holds more than lingering ACKs). */
  prompt: boolean;
  /** A message of this session is being published. */
  busy: boolean;
  /** Listed in `ready`. */
  queued: boolean;
  /** Listed in `lingering`. */
  lingering: boolean;
  /** `settled()` callers: resolved once nothing of the session is pending. */
  idle: Array<() => void>;
}

const MIN_COMPACT = 256;

export class JetStreamEventLog implements EventLog {
  private readonly instance = randomUUID().slice(0, 8);
  private nextId = 1;
  private readonly chains = new Map<string, Chain>();
  /** Chains with a message to publish this turn. */
  private ready: Chain[] = [];
  private scheduled = false;
  /** Chains holding only ACKs, published when the linger timer fires. */
  private readonly lingering = new Set<Chain>();
  private lingerTimer: NodeJS.Timeout | null = null;
  private readonly ackLingerMs: number;
  /** Events written per session since its last snapshot, and the threshold for the next one. */
  private readonly written = new Map<string, { count: number; compactAt: number }>();
  private stateOf: ((sessionId: string) => SessionState | undefined) | null = null;
  private closed = false;
  private failingSince = 0;
  private connected = true;
  private inflight = 0;
  private readonly publisher: StreamPublisher | null;
  /** Counters for stats and benchmarks. */
  readonly stats = { appends: 0, deferred: 0, messages: 0, snapshots: 0, retries: 0, batches: 0, bytes: 0 };

  constructor(private readonly opts: JetStreamEventLogOptions) {
    this.ackLingerMs = opts.ackLingerMs ?? 100;
    this.publisher = opts.nc ? new StreamPublisher(opts.nc, opts.publishTimeoutMs ?? 5_000) : null;
  }

  /**
   * Live session states, for snapshots: when `append` is called the live state
   * is exactly the stored state plus the events not yet published plus this
   * append (the actor appends everything it applied before running anything else).
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

  /** Messages published and not yet acknowledged, plus sessions with events still to publish. */
  get pendingAppends(): number {
    let n = this.inflight;
    for (const c of this.chains.values()) if (c.events.length > 0) n++;
    return n;
  }

  append(sessionId: string, events: readonly SessionEvent[]): Promise<void> | undefined {
    const urgent = holdsBackEffects(events);
    if (this.closed) return urgent ? Promise.reject(new Error('event log closed')) : undefined;
    this.stats.appends++;
    let chain = this.chains.get(sessionId);
    if (!chain) {
      chain = {
        subject: this.opts.names.events(sessionId),
        events: [],
        snapshot: false,
        waiters: [],
        prompt: false,
        busy: false,
        queued: false,
        lingering: false,
        idle: [],
      };
      this.chains.set(sessionId, chain);
    }
    let w = this.written.get(sessionId);
    let snapshot = false;
    if (!w || w.count + events.length >= w.compactAt) {
      const live = this.stateOf?.(sessionId);
      if (live) {
        // The live state already holds every event not yet published, and these.
        chain.events = snapshotEvents(live);
        chain.snapshot = true;
        chain.prompt = true;
        snapshot = true;
      }
      w ??= { count: 0, compactAt: MIN_COMPACT };
      if (snapshot) {
        w.count = chain.events.length;
        w.compactAt = Math.max(this.opts.compactEvery ?? MIN_COMPACT, chain.events.length * 2);
      } else w.count += events.length;
      this.written.set(sessionId, w);
    } else {
      w.count += events.length;
    }
    if (!snapshot) {
      const out = chain.events;
      for (const e of events) {
        const last = out.length > 0 ? out[out.length - 1]! : undefined;
        if (e.type === 'acked' && last?.type === 'acked') {
          if (e.seq > last.seq) out[out.length - 1] = e;
        } else {
          out.push(e);
          if (e.type !== 'acked') chain.prompt = true;
        }
      }
    }
    let stored: Promise<void> | undefined;
    if (urgent) {
      stored = new Promise<void>((resolve, reject) => chain.waiters.push({ resolve, reject }));
    } else this.stats.deferred++;
    this.schedule(chain);
    return stored;
  }

  /** Resolves once everything the session appended so far is stored (or the log is closed). */
  settled(sessionId: string): Promise<void> {
    const chain = this.chains.get(sessionId);
    if (this.closed || !chain || (!chain.busy && chain.events.length === 0)) return Promise.resolve();
    if (chain.events.length > 0 && !chain.prompt) {
      chain.prompt = true;
      this.schedule(chain);
    }
    return new Promise<void>((resolve) => chain.idle.push(resolve));
  }

  async forget(sessionId: string): Promise<void> {
    await this.settled(sessionId);
    this.chains.delete(sessionId);
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
    const chain = this.chains.get(sessionId);
    if (chain && !chain.busy && chain.events.length === 0) this.chains.delete(sessionId);
  }

  /** Publish every lingering ACK now (shutdown). */
  flushLingering(): void {
    for (const chain of this.lingering) {
      chain.prompt = true;
      chain.lingering = false;
      this.schedule(chain);
    }
    this.lingering.clear();
  }

  close(): void {
    this.closed = true;
    this.publisher?.close();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.lingering.clear();
    this.ready = [];
    const err = new Error('event log closed');
    for (const chain of this.chains.values()) {
      const waiters = chain.waiters;
      chain.waiters = [];
      chain.events = [];
      for (const w of waiters) w.reject(err);
      this.wakeIdle(chain);
    }
  }

  /** The chain has something to publish: now (this turn), later (lingering ACKs), or after its message in flight. */
  private schedule(chain: Chain): void {
    if (chain.busy || chain.events.length === 0) return;
    if (chain.prompt) {
      if (chain.queued) return;
      chain.queued = true;
      this.ready.push(chain);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    } else if (!chain.lingering) {
      chain.lingering = true;
      this.lingering.add(chain);
      if (!this.lingerTimer) {
        this.lingerTimer = setTimeout(() => {
          this.lingerTimer = null;
          this.flushLingering();
        }, this.ackLingerMs);
        this.lingerTimer.unref();
      }
    }
  }

  /** Publish the message of every ready chain (pipelined on one connection). */
  private flush(): void {
    this.scheduled = false;
    const batch = this.ready;
    this.ready = [];
    if (batch.length === 0 || this.closed) return;
    this.stats.batches++;
    for (const chain of batch) {
      chain.queued = false;
      this.send(chain);
    }
  }

  private send(chain: Chain): void {
    if (chain.busy || chain.events.length === 0) return;
    const { events, snapshot, waiters } = chain;
    chain.events = [];
    chain.snapshot = false;
    chain.waiters = [];
    chain.prompt = false;
    chain.busy = true;
    if (chain.lingering) {
      chain.lingering = false;
      this.lingering.delete(chain);
    }
    const data = encodeEventRecord(events, snapshot);
    this.stats.bytes += data.length;
    void this.publish(chain.subject, data, snapshot).then(
      () => {
        for (const w of waiters) w.resolve();
        this.done(chain);
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
        this.done(chain);
      },
    );
  }

  private done(chain: Chain): void {
    chain.busy = false;
    if (chain.events.length > 0 && !this.closed) this.schedule(chain);
    else this.wakeIdle(chain);
  }

  private wakeIdle(chain: Chain): void {
    const idle = chain.idle;
    if (idle.length === 0) return;
    chain.idle = [];
    for (const f of idle) f();
  }

  /** Store one message; retried until stored. Rejects only once the log is closed. */
  private async publish(subject: string, data: Uint8Array, snapshot: boolean): Promise<void> {
    const msgID = `${this.instance}.${this.nextId++}`;
    const h = headers();
    h.set('Nats-Msg-Id', msgID);
    if (snapshot) h.set('Nats-Rollup', 'sub');
    this.inflight++;
    let delay = 50;
    try {
      for (;;) {
        if (this.closed) throw new Error('event log closed');
        try {
          if (this.publisher) await this.publisher.publish(subject, data, h);
          else
            await this.opts.js.publish(subject, data, {
              headers: h,
              timeout: this.opts.publishTimeoutMs ?? 5_000,
            });
          this.stats.messages++;
          if (snapshot) this.stats.snapshots++;
          if (this.failingSince !== 0) {
            this.opts.logger?.info({ failedForMs: Date.now() - this.failingSince }, 'event log stores again');
            this.failingSince = 0;
          }
          return;
        } catch (err) {
          if (this.closed) throw err;
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
