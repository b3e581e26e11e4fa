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
 *   lost ack is stored once (stream duplicate window); past that window a
 *   refused retry is recognised by reading the subject's last message.
 * - Fencing: every message carries Nats-Expected-Last-Subject-Sequence, the
 *   stream seq of the session's last message as this writer knows it. If anyone
 *   else wrote the session since (a backup that took over, a node that claimed
 *   it), the stream refuses the write: the append fails with FENCED, and so
 *   does every later append of that session here, until it is reloaded. A
 *   write is not even attempted once `mayWrite()` says the serving lease may
 *   have lapsed.
 * - A failed publish (server down, timeout) is retried (same msg id) until it
 *   is stored, fenced or the log closes. After `storeTimeoutMs` the append's
 *   waiters are told STORE_TIMEOUT (so producers and clients get an answer),
 *   and the error's `later` tells them the final outcome. The actor keeps
 *   everything after an append (frames, producer answers) until it is stored,
 *   and drops it all when it fails, so nothing is acknowledged that could be
 *   lost. Producers are refused with 503 meanwhile (`available()`).
 * - Bounded records: no message exceeds the server's max_payload. A batch of
 *   events too large for one message goes out as several, in order; a snapshot
 *   too large for one message is stored in parts (event-codec.ts), and what
 *   precedes its first part is purged once every part is stored.
 * - Compaction: a session's first append from this process, and any append
 *   once the session wrote enough since its last snapshot, is a snapshot of
 *   the live state (`snapshotEvents`) published with `Nats-Rollup: sub`, which
 *   makes the stream drop everything older on that subject. The snapshot
 *   replaces the session's events not yet published (the live state has them).
 * - `forget` purges the subject once the session's messages are stored.
 */

import { randomUUID } from 'node:crypto';
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { type EventLog, holdsBackEffects, type Logger } from '../../actors/ports.js';
import {
  isNoMessageFound,
  JetStreamApiError,
  JS_WRONG_LAST_SEQUENCE,
  messageOf,
  StoreError,
} from '../../errors.js';
import { type SessionEvent, type SessionState, snapshotEvents } from '../../machines/session-state.js';
import { encodeEventJson, encodeRecord, groupBySize } from './event-codec.js';
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
  /** Largest message the server accepts (its INFO max_payload; default: the connection's, else 1 MiB). */
  maxPayload?: number;
  /** How long a failing store is retried before the append fails with STORE_TIMEOUT (default 5 s). */
  storeTimeoutMs?: number;
  /** Whether this node may write now (its serving lease cannot have lapsed); checked before every publish. */
  mayWrite?: () => boolean;
  /**
   * A session's store failed (FENCED, STORE_TIMEOUT, ...): its live state may
   * differ from the log, so its owner must drop it and rebuild it from the log.
   */
  onFailed?: (sessionId: string, err: StoreError) => void;
  logger?: Logger;
}

/** Headroom under max_payload for the message's headers (msg id, expected seq, rollup). */
const HEADER_ROOM = 1024;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What one session has to store: its next message, and whether one is in flight. */
interface Chain {
  readonly sessionId: string;
  readonly subject: string;
  /** Stream seq of the session's last stored message as this writer knows it (the fence); -1 unknown. */
  lastSeq: number;
  /** Set once a store failed: every later append fails too, until the session is reloaded (`adopt`). */
  failed: StoreError | null;
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
  /** Largest record (message body) this log publishes. */
  readonly maxRecordBytes: number;
  private readonly storeTimeoutMs: number;
  /** Counters for stats and benchmarks. */
  readonly stats = {
    appends: 0,
    deferred: 0,
    messages: 0,
    snapshots: 0,
    snapshotParts: 0,
    retries: 0,
    batches: 0,
    bytes: 0,
    fenced: 0,
    failed: 0,
  };

  constructor(private readonly opts: JetStreamEventLogOptions) {
    this.ackLingerMs = opts.ackLingerMs ?? 100;
    this.storeTimeoutMs = opts.storeTimeoutMs ?? 5_000;
    const maxPayload = opts.maxPayload ?? opts.nc?.info?.max_payload ?? 1_048_576;
    this.maxRecordBytes = Math.max(4096, maxPayload - HEADER_ROOM);
    this.publisher = opts.nc
      ? new StreamPublisher(opts.nc, Math.min(opts.publishTimeoutMs ?? 5_000, this.storeTimeoutMs))
      : null;
  }

  /**
   * The largest push frame whose `pushed` event still fits one record (frames
   * travel base64 in JSON): the gateway clamps max_frame_bytes to it.
   */
  get maxFrameBytes(): number {
    return Math.floor(((this.maxRecordBytes - 1024) * 3) / 4);
  }

  /**
   * A session rebuilt from the log runs here now: its next write is fenced on
   * `lastSeq`, the stream seq of the last stored message it was rebuilt from.
   */
  adopt(sessionId: string, lastSeq: number): void {
    const chain = this.chains.get(sessionId);
    if (chain && (chain.busy || chain.events.length > 0)) {
      this.fail(chain, new StoreError('FENCED', `session ${sessionId} reloaded while it was being stored`));
    }
    this.written.delete(sessionId);
    const fresh = this.newChain(sessionId);
    fresh.lastSeq = lastSeq;
    this.chains.set(sessionId, fresh);
  }

  /** Stop writing everything (this node stands by): every pending append fails with FENCED. */
  reset(): void {
    const err = new StoreError('FENCED', 'this gateway stopped serving');
    for (const chain of this.chains.values()) {
      chain.failed = err;
      const waiters = chain.waiters;
      chain.waiters = [];
      chain.events = [];
      for (const w of waiters) w.reject(err);
      this.wakeIdle(chain);
    }
    this.chains.clear();
    this.written.clear();
    this.lingering.clear();
    this.ready = [];
  }

  get sessionsTracked(): number {
    return this.chains.size;
  }

  private newChain(sessionId: string): Chain {
    return {
      sessionId,
      subject: this.opts.names.events(sessionId),
      lastSeq: -1,
      failed: null,
      events: [],
      snapshot: false,
      waiters: [],
      prompt: false,
      busy: false,
      queued: false,
      lingering: false,
      idle: [],
    };
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
    if (this.closed)
      return urgent ? Promise.reject(new StoreError('LOG_CLOSED', 'event log closed')) : undefined;
    this.stats.appends++;
    let chain = this.chains.get(sessionId);
    if (!chain) {
      chain = this.newChain(sessionId);
      // A brand-new session's subject is empty; any other is fenced on the subject's last message.
      if (events[0]?.type === 'started') chain.lastSeq = 0;
      this.chains.set(sessionId, chain);
    }
    if (chain.failed) return urgent ? Promise.reject(chain.failed) : undefined;
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
      this.opts.logger?.warn({ sessionId, err }, 'could not purge session events');
    }
  }

  /** A session moved away (hand-off): the next append from here starts with a snapshot again. */
  release(sessionId: string): void {
    this.written.delete(sessionId);
    const chain = this.chains.get(sessionId);
    if (chain && !chain.busy && (chain.events.length === 0 || chain.failed)) this.chains.delete(sessionId);
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
    const err = new StoreError('LOG_CLOSED', 'event log closed');
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
    if (chain.failed) {
      this.fail(chain, chain.failed);
      return;
    }
    const { events, snapshot, waiters } = chain;
    let groups: string[][];
    try {
      groups = groupBySize(events.map(encodeEventJson), this.maxRecordBytes);
    } catch (err) {
      this.fail(chain, new StoreError('RECORD_TOO_LARGE', (err as Error).message, { cause: err }));
      return;
    }
    chain.events = [];
    chain.snapshot = false;
    chain.waiters = [];
    chain.prompt = false;
    chain.busy = true;
    if (chain.lingering) {
      chain.lingering = false;
      this.lingering.delete(chain);
    }
    const final = this.storeGroups(chain, groups, snapshot).catch((err: unknown) => {
      throw err instanceof StoreError ? err : new StoreError('LOG_CLOSED', messageOf(err), { cause: err });
    });
    // Slow (NATS down, a lost leader): answer whoever waits now; the store itself goes on.
    let timedOut = false;
    const timer =
      waiters.length > 0
        ? setTimeout(() => {
            timedOut = true;
            const e = new StoreError('STORE_TIMEOUT', `not stored within ${this.storeTimeoutMs} ms`, {
              later: final,
            });
            for (const w of waiters) w.reject(e);
          }, this.storeTimeoutMs)
        : null;
    timer?.unref();
    final.then(
      () => {
        if (timer) clearTimeout(timer);
        if (!timedOut) for (const w of waiters) w.resolve();
        this.done(chain);
      },
      (err: StoreError) => {
        if (timer) clearTimeout(timer);
        if (!timedOut) chain.waiters = waiters.concat(chain.waiters);
        chain.busy = false;
        this.fail(chain, err);
      },
    );
  }

  /** Store one append (or snapshot) as one or more records, in order. */
  private async storeGroups(chain: Chain, groups: string[][], snapshot: boolean): Promise<void> {
    if (!snapshot) {
      for (const g of groups) await this.store(chain, encodeRecord(g), false);
      return;
    }
    if (groups.length === 1) {
      await this.store(chain, encodeRecord(groups[0]!, { snapshot: true }), true);
      this.stats.snapshots++;
      return;
    }
    // Too large for one message: parts, then drop what precedes the first part.
    const id = randomUUID();
    let first = 0;
    for (let k = 0; k < groups.length; k++) {
      const seq = await this.store(
        chain,
        encodeRecord(groups[k]!, { part: { id, k, n: groups.length } }),
        false,
      );
      if (k === 0) first = seq;
      this.stats.snapshotParts++;
    }
    this.stats.snapshots++;
    try {
      await this.opts.jsm.streams.purge(this.opts.names.eventsStream, { filter: chain.subject, seq: first });
    } catch (err) {
      // Harmless: the complete snapshot replaces what precedes it; the next compaction purges again.
      this.opts.logger?.warn({ sessionId: chain.sessionId, err }, 'could not purge before a snapshot');
    }
  }

  private fail(chain: Chain, err: StoreError): void {
    const first = chain.failed === null;
    chain.failed = err;
    const waiters = chain.waiters;
    chain.waiters = [];
    chain.events = [];
    chain.snapshot = false;
    if (chain.lingering) {
      chain.lingering = false;
      this.lingering.delete(chain);
    }
    for (const w of waiters) w.reject(err);
    this.wakeIdle(chain);
    if (first) {
      this.stats.failed++;
      if (err.code === 'FENCED') this.stats.fenced++;
      if (err.code !== 'LOG_CLOSED') {
        this.opts.logger?.warn(
          { sessionId: chain.sessionId, code: err.code, err },
          'session event store failed: the session is dropped here and rebuilt from the log',
        );
      }
      this.opts.onFailed?.(chain.sessionId, err);
    }
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

  /** The subject's last stored message: its stream seq and msg id (seq 0 when the subject is empty). */
  private async lastOnSubject(subject: string): Promise<{ seq: number; msgId: string }> {
    try {
      const m = await this.opts.jsm.streams.getMessage(this.opts.names.eventsStream, {
        last_by_subj: subject,
      });
      return { seq: m.seq, msgId: m.header?.get('Nats-Msg-Id') ?? '' };
    } catch (err) {
      if (isNoMessageFound(err)) return { seq: 0, msgId: '' };
      throw err;
    }
  }

  private async publishOnce(
    subject: string,
    data: Uint8Array,
    h: ReturnType<typeof headers>,
  ): Promise<number> {
    if (this.publisher) return this.publisher.publish(subject, data, h);
    try {
      const ack = await this.opts.js.publish(subject, data, {
        headers: h,
        timeout: Math.min(this.opts.publishTimeoutMs ?? 5_000, this.storeTimeoutMs),
      });
      return ack.seq;
    } catch (err) {
      const api = (err as { api_error?: { code?: number; err_code?: number; description?: string } })
        .api_error;
      if (api)
        throw new JetStreamApiError(api.description ?? messageOf(err), api.err_code ?? 0, api.code ?? 0, {
          cause: err,
        });
      throw err;
    }
  }

  /**
   * Store one message, fenced on the chain's last seq; retried (same msg id)
   * until stored, fenced or closed. Resolves with its stream seq.
   */
  private async store(chain: Chain, data: Uint8Array, rollup: boolean): Promise<number> {
    if (chain.lastSeq < 0) chain.lastSeq = (await this.lastOnSubject(chain.subject)).seq;
    const msgID = `${this.instance}.${this.nextId++}`;
    const h = headers();
    h.set('Nats-Msg-Id', msgID);
    h.set('Nats-Expected-Last-Subject-Sequence', String(chain.lastSeq));
    if (rollup) h.set('Nats-Rollup', 'sub');
    this.stats.bytes += data.length;
    this.inflight++;
    let delay = 50;
    try {
      for (;;) {
        if (this.closed) throw new StoreError('LOG_CLOSED', 'event log closed');
        if (this.opts.mayWrite && !this.opts.mayWrite())
          throw new StoreError('FENCED', 'the serving lease may have lapsed: not writing');
        let failure: unknown;
        try {
          const seq = await this.publishOnce(chain.subject, data, h);
          chain.lastSeq = seq;
          this.stats.messages++;
          if (this.failingSince !== 0) {
            this.opts.logger?.info({ failedForMs: Date.now() - this.failingSince }, 'event log stores again');
            this.failingSince = 0;
          }
          return seq;
        } catch (err) {
          failure = err;
        }
        if (this.closed) throw new StoreError('LOG_CLOSED', 'event log closed', { cause: failure });
        if (failure instanceof JetStreamApiError && failure.errCode === JS_WRONG_LAST_SEQUENCE) {
          // Our own earlier attempt may have been stored (its ack lost, past the duplicate window).
          const last = await this.lastOnSubject(chain.subject).catch(() => null);
          if (last && last.msgId === msgID) {
            chain.lastSeq = last.seq;
            this.stats.messages++;
            return last.seq;
          }
          throw new StoreError('FENCED', `session log written by another gateway (${failure.message})`, {
            cause: failure,
          });
        }
        if ((failure as { code?: string }).code === 'MAX_PAYLOAD_EXCEEDED')
          throw new StoreError('RECORD_TOO_LARGE', String(failure), { cause: failure });
        if (this.failingSince === 0) {
          this.failingSince = Date.now();
          this.opts.logger?.warn({ err: failure }, 'event log store failed; retrying (producers get 503)');
        }
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1_000);
      }
    } finally {
      this.inflight--;
    }
  }
}
