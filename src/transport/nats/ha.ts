/**
 * Hot backup building blocks over NATS: the serving lease (a KV key whose TTL
 * is backup.heartbeat.timeout, refreshed by its holder every interval) and the
 * event follower (folds every session's stored events as they arrive).
 */

import { randomUUID } from 'node:crypto';
import type { ConsumerMessages, JetStreamClient, JetStreamManager, KV } from 'nats';
import { SessionFold } from '../../actors/failover.js';
import type { Logger } from '../../actors/ports.js';
import { isNoMessageFound } from '../../errors.js';
import type { SessionState } from '../../machines/session-state.js';
import { decodeEventRecord } from './event-codec.js';
import { retryUntil } from './retry.js';
import type { NatsNames } from './subjects.js';

export const LEASE_KEY = 'serving';

/** Idle heartbeat of the event follower's subscription (ms). */
const FOLLOW_HEARTBEAT_MS = 1_000;

interface LeaseValue {
  serverId: string;
  instance: string;
  at: number;
}

/** Monotonic milliseconds (performance.now(): unaffected by wall-clock changes, and it keeps running while the process is paused). */
export type MonotonicClock = () => number;

/** Where the lease is kept: a KV key with a TTL (a narrow port, so tests can use a fake). */
export interface LeaseStore {
  create(key: string, value: string): Promise<number>;
  update(key: string, value: string, revision: number): Promise<number>;
  get(key: string): Promise<{ revision: number; value: string } | null>;
  delete(key: string, revision: number): Promise<void>;
}

export function kvLeaseStore(kv: KV): LeaseStore {
  return {
    create: (k, v) => kv.create(k, v),
    update: (k, v, r) => kv.update(k, v, r),
    async get(k) {
      const e = await kv.get(k);
      return e && e.operation === 'PUT' ? { revision: e.revision, value: e.string() } : null;
    },
    async delete(k, r) {
      await kv.delete(k, { previousSeq: r });
    },
  };
}

/**
 * Only the holder serves QUIC and gRPC. Acquire = create the key (fails while
 * someone holds it); renew = compare-and-set on our last revision. A lapsed
 * lease (holder gone for the TTL) disappears from the bucket, so a create
 * succeeds again: exactly one contender wins it.
 *
 * Fencing (docs/protocol.md section 7): the holder keeps a local deadline on a
 * monotonic clock, `sent + ttl`, where `sent` is when it *sent* the request
 * that created or renewed the key. The server stores the key no earlier than
 * that, so the key cannot lapse (and no backup can take it) before the
 * deadline. `valid()` is false from the deadline on, whether NATS answers or
 * not: a process that was paused finds itself expired when it resumes, before
 * it acknowledges anything.
 */
export class ServingLease {
  private revision = 0;
  private readonly instance = randomUUID();
  private deadline = 0;
  held = false;

  constructor(
    private readonly store: LeaseStore,
    private readonly serverId: string,
    private readonly ttlMs: number,
    private readonly now: MonotonicClock = () => performance.now(),
    private readonly logger?: Logger,
  ) {}

  private value(): string {
    const v: LeaseValue = { serverId: this.serverId, instance: this.instance, at: Date.now() };
    return JSON.stringify(v);
  }

  /** The lease is ours and cannot have lapsed yet. */
  valid(): boolean {
    return this.held && this.now() < this.deadline;
  }

  /** Milliseconds until the local deadline (<= 0 once passed or not held). */
  remainingMs(): number {
    return this.held ? this.deadline - this.now() : 0;
  }

  async holder(): Promise<LeaseValue | null> {
    const e = await this.store.get(LEASE_KEY);
    if (!e) return null;
    try {
      return JSON.parse(e.value) as LeaseValue;
    } catch {
      return null;
    }
  }

  async tryAcquire(): Promise<boolean> {
    const sent = this.now();
    try {
      this.revision = await this.store.create(LEASE_KEY, this.value());
      this.held = true;
      this.deadline = sent + this.ttlMs;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Refresh. 'renewed' moves the deadline; 'lost' means someone else holds it;
   * 'unknown' (NATS unreachable) leaves the deadline where it was, so the node
   * stops accepting when it passes.
   */
  async renew(): Promise<'renewed' | 'lost' | 'unknown'> {
    if (!this.held) return 'lost';
    const sent = this.now();
    try {
      this.revision = await this.store.update(LEASE_KEY, this.value(), this.revision);
      this.deadline = sent + this.ttlMs;
      return 'renewed';
    } catch (err) {
      // A lost ack may have stored our update: check who holds it now.
      try {
        const e = await this.store.get(LEASE_KEY);
        if (e) {
          const v = JSON.parse(e.value) as LeaseValue;
          if (v.instance === this.instance) {
            // Ours, but stored when? No later than now: keep the older deadline, renew next time.
            this.revision = e.revision;
            return 'unknown';
          }
          this.held = false;
          return 'lost';
        }
        // Lapsed (and nobody took it yet): we may have been paused. Not ours any more.
        this.held = false;
        return 'lost';
      } catch {
        this.logger?.warn({ err }, 'serving lease not renewed (NATS unreachable)');
        return 'unknown';
      }
    }
  }

  /** Give the lease up (locally at once; in the store if reachable). */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.deadline = 0;
    try {
      await this.store.delete(LEASE_KEY, this.revision);
    } catch {
      // someone else's now, or NATS gone: it lapses by itself
    }
  }

  /** Forget the lease locally (it lapsed or was lost). */
  drop(): void {
    this.held = false;
    this.deadline = 0;
  }
}

/**
 * Follows P.events.> from the start of the stream, folding every session, and
 * remembers the stream seq of each session's last record (the fence of its
 * first write after a promotion). A follower whose subscription ends without
 * being stopped starts again right after the last record it applied.
 */
export class EventFollower {
  private readonly fold: SessionFold;
  private msgs: ConsumerMessages | null = null;
  private readonly waiters = new Map<string, () => void>();
  private readonly prefix: string;
  /** Stream seq of the last record applied (any subject). */
  private streamSeq = 0;
  /** sessionId -> stream seq of its last record. */
  private readonly lastSeqs = new Map<string, number>();
  private stopped = false;
  applied = 0;
  restarts = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    maxQueue: number,
    private readonly logger?: Logger,
  ) {
    this.fold = new SessionFold(maxQueue);
    this.prefix = names.events('');
  }

  get sessions(): number {
    return this.fold.size;
  }

  async start(): Promise<void> {
    const consumer = await this.js.consumers.get(this.names.eventsStream, {
      filterSubjects: this.names.eventsAll,
      ...(this.streamSeq > 0 ? { opt_start_seq: this.streamSeq + 1 } : {}),
    });
    // Heartbeats every second: a subscription on a NATS node that died is noticed (and the
    // ordered consumer recreated) within seconds, not the default half minute.
    const msgs = await consumer.consume({ max_messages: 2048, idle_heartbeat: FOLLOW_HEARTBEAT_MS });
    this.msgs = msgs;
    void (async () => {
      try {
        for await (const m of msgs) this.onRecord(m.subject, m.seq, m.data, () => m.string());
      } catch (err) {
        this.logger?.warn({ err }, 'event follower subscription failed');
      }
      if (!this.stopped && this.msgs === msgs) void this.restart();
    })();
  }

  private onRecord(subject: string, seq: number, data: Uint8Array, text: () => string): void {
    if (seq <= this.streamSeq) return; // redelivered after a restart
    this.streamSeq = seq;
    if (subject === this.names.barrier) {
      this.waiters.get(text())?.();
      return;
    }
    const sessionId = subject.slice(this.prefix.length);
    this.lastSeqs.set(sessionId, seq);
    try {
      this.fold.apply(sessionId, decodeEventRecord(data));
    } catch (err) {
      this.fold.drop(sessionId);
      this.fold.broken.add(sessionId);
      this.logger?.warn({ sessionId, err }, 'undecodable stored session record');
    }
    this.applied++;
  }

  /** Drop the subscription and follow again from the last record applied (promotion retries). */
  async resubscribe(): Promise<void> {
    await this.msgs?.close().catch(() => {});
  }

  private async restart(): Promise<void> {
    const ok = await retryUntil(
      async () => {
        this.restarts++;
        await this.start();
        return true;
      },
      {
        stopped: () => this.stopped,
        onRetry: (err) => this.logger?.warn({ err }, 'event follower restart failed; retrying'),
      },
    );
    if (ok) this.logger?.info({ fromSeq: this.streamSeq + 1 }, 'event follower restarted');
  }

  /**
   * Resolves true once every record stored before this call has been folded:
   * a marker is stored on the same stream and awaited (the stream is totally
   * ordered, so whatever precedes the marker has been seen). False when that
   * could not be confirmed within `timeoutMs` (the caller retries).
   */
  async barrier(timeoutMs: number): Promise<boolean> {
    const token = randomUUID();
    const seen = new Promise<void>((resolve) => this.waiters.set(token, resolve));
    try {
      await this.js.publish(this.names.barrier, new TextEncoder().encode(token), { timeout: timeoutMs });
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        seen.then(() => true),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      void this.jsm.streams.purge(this.names.eventsStream, { filter: this.names.barrier }).catch(() => {});
      return ok;
    } catch (err) {
      this.logger?.warn({ err }, 'event follower barrier failed');
      return false;
    } finally {
      this.waiters.delete(token);
    }
  }

  /** Stop following and hand over every folded session, with the seq of its last record. */
  async stop(): Promise<{
    states: Map<string, SessionState>;
    lastSeqs: Map<string, number>;
    broken: string[];
  }> {
    this.stopped = true;
    const msgs = this.msgs;
    this.msgs = null;
    if (msgs) await msgs.close().catch(() => {});
    const broken = [...this.fold.broken];
    return { states: this.fold.takeAll(), lastSeqs: new Map(this.lastSeqs), broken };
  }
}

/** Every stored record of one session, in order, and the stream seq of the last one (0: none). */
export interface SessionRecords {
  records: Uint8Array[];
  lastSeq: number;
}

/**
 * Reads every stored record of one session (cross-node takeover, reloads). It
 * never returns a partial list: if the records up to the subject's last message
 * cannot all be read within `timeoutMs`, it throws.
 */
export async function loadSessionRecords(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: NatsNames,
  sessionId: string,
  timeoutMs = 5_000,
): Promise<SessionRecords> {
  const subject = names.events(sessionId);
  let last: number;
  try {
    last = (await jsm.streams.getMessage(names.eventsStream, { last_by_subj: subject })).seq;
  } catch (err) {
    if (isNoMessageFound(err)) return { records: [], lastSeq: 0 };
    throw err;
  }
  const consumer = await js.consumers.get(names.eventsStream, { filterSubjects: subject });
  const msgs = await consumer.consume({ max_messages: 256 });
  const out: Uint8Array[] = [];
  let complete = false;
  const timer = setTimeout(() => void msgs.close(), timeoutMs);
  try {
    for await (const m of msgs) {
      out.push(m.data);
      if (m.seq >= last) {
        complete = true;
        break;
      }
    }
  } finally {
    clearTimeout(timer);
    await msgs.close().catch(() => {});
  }
  if (!complete)
    throw new Error(
      `session ${sessionId}: read ${out.length} records but not up to seq ${last} in ${timeoutMs} ms`,
    );
  return { records: out, lastSeq: last };
}
