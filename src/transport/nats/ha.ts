/**
 * Hot backup building blocks over NATS: the serving lease (a KV key whose TTL
 * is backup.heartbeat.timeout, refreshed by its holder every interval) and the
 * event follower (folds every session's stored events as they arrive).
 */
import { randomUUID } from 'node:crypto';
import type { ConsumerMessages, JetStreamClient, JetStreamManager, KV } from 'nats';
import { SessionFold } from '../../actors/failover.js';
import type { SessionState } from '../../machines/session-state.js';
import { decodeEventRecord } from './event-codec.js';
import type { NatsNames } from './subjects.js';

type Log = { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };

export const LEASE_KEY = 'serving';

interface LeaseValue {
  serverId: string;
  instance: string;
  at: number;
}

/**
 * Only the holder serves QUIC and gRPC. Acquire = create the key (fails while
 * someone holds it); renew = compare-and-set on our last revision. A lapsed
 * lease (holder gone for the TTL) disappears from the bucket, so a create
 * succeeds again: exactly one contender wins it.
 */
export class ServingLease {
  private revision = 0;
  private readonly instance = randomUUID();
  held = false;

  constructor(
    private readonly kv: KV,
    private readonly serverId: string,
    private readonly logger?: Log,
  ) {}

  private value(): string {
    const v: LeaseValue = { serverId: this.serverId, instance: this.instance, at: Date.now() };
    return JSON.stringify(v);
  }

  async holder(): Promise<LeaseValue | null> {
    const e = await this.kv.get(LEASE_KEY);
    if (!e || e.operation !== 'PUT') return null;
    try {
      return JSON.parse(e.string()) as LeaseValue;
    } catch {
      return null;
    }
  }

  async tryAcquire(): Promise<boolean> {
    try {
      this.revision = await this.kv.create(LEASE_KEY, this.value());
      this.held = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Refresh; false when the lease is lost (someone else holds it). */
  async renew(): Promise<boolean> {
    try {
      this.revision = await this.kv.update(LEASE_KEY, this.value(), this.revision);
      return true;
    } catch (err) {
      // A lost ack may have stored our update: check who holds it now.
      try {
        const e = await this.kv.get(LEASE_KEY);
        if (e && e.operation === 'PUT') {
          const v = JSON.parse(e.string()) as LeaseValue;
          if (v.instance === this.instance) {
            this.revision = e.revision;
            return true;
          }
          this.held = false;
          return false;
        }
        // Lapsed and nobody took it yet: take it again.
        if (await this.tryAcquire()) return true;
      } catch {
        // NATS unreachable: keep serving until the lease is known to be lost.
        this.logger?.warn({ err: String(err) }, 'serving lease not renewed (NATS unreachable)');
        return true;
      }
      this.held = false;
      return false;
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    try {
      await this.kv.delete(LEASE_KEY, { previousSeq: this.revision });
    } catch {
      // someone else's now, or NATS gone: it lapses by itself
    }
  }
}

/** Follows P.events.> from the start of the stream, folding every session. */
export class EventFollower {
  private readonly fold: SessionFold;
  private msgs: ConsumerMessages | null = null;
  private readonly waiters = new Map<string, () => void>();
  private readonly prefix: string;
  applied = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    maxQueue: number,
    private readonly logger?: Log,
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
    });
    this.msgs = await consumer.consume({ max_messages: 2048 });
    const msgs = this.msgs;
    void (async () => {
      try {
        for await (const m of msgs) {
          if (m.subject === this.names.barrier) {
            this.waiters.get(m.string())?.();
            continue;
          }
          const sessionId = m.subject.slice(this.prefix.length);
          try {
            this.fold.apply(sessionId, decodeEventRecord(m.data));
          } catch (err) {
            this.fold.drop(sessionId);
            this.fold.broken.add(sessionId);
            this.logger?.warn({ sessionId, err: String(err) }, 'undecodable stored session record');
          }
          this.applied++;
        }
      } catch (err) {
        this.logger?.warn({ err: String(err) }, 'event follower stopped');
      }
    })();
  }

  /**
   * Resolves once every record stored before this call has been folded: a
   * marker is stored on the same stream and awaited (the stream is totally
   * ordered, so whatever precedes the marker has been seen).
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
      this.logger?.warn({ err: String(err) }, 'event follower barrier failed');
      return false;
    } finally {
      this.waiters.delete(token);
    }
  }

  /** Stop following and hand over every folded session (and the ones to reload). */
  async stop(): Promise<{ states: Map<string, SessionState>; broken: string[] }> {
    const msgs = this.msgs;
    this.msgs = null;
    if (msgs) await msgs.close().catch(() => {});
    const broken = [...this.fold.broken];
    return { states: this.fold.takeAll(), broken };
  }
}

/** Every stored record of one session, in order (cross-node takeover, reloads). */
export async function loadSessionRecords(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: NatsNames,
  sessionId: string,
  timeoutMs = 5_000,
): Promise<Uint8Array[]> {
  const subject = names.events(sessionId);
  let last: number;
  try {
    last = (await jsm.streams.getMessage(names.eventsStream, { last_by_subj: subject })).seq;
  } catch {
    return [];
  }
  const consumer = await js.consumers.get(names.eventsStream, { filterSubjects: subject });
  const msgs = await consumer.consume({ max_messages: 256 });
  const out: Uint8Array[] = [];
  const timer = setTimeout(() => void msgs.close(), timeoutMs);
  try {
    for await (const m of msgs) {
      out.push(m.data);
      if (m.seq >= last) break;
    }
  } finally {
    clearTimeout(timer);
    await msgs.close().catch(() => {});
  }
  return out;
}
