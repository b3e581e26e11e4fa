/**
 * Whether this node serves. A standalone node always does. In a
 * primary/backup pair only the holder of the serving lease does; the other
 * folds the event log as it arrives, so that taking the lease over costs no
 * replay: it adopts every session it already holds in memory.
 *
 * Fencing: the holder accepts pushes and client requests only while it serves
 * and its lease cannot have lapsed (`accepting()`), and stores session events
 * only while the lease cannot have lapsed (`mayWrite()`). A timer
 * fires at the lease's local deadline, and every acceptance checks it too, so
 * a process resuming from a pause stands down before it answers anything.
 */
import type { KV } from 'nats';
import { CloseCode } from '../../protocol/codes.js';
import type { ClusterNode } from './cluster-node.js';
import { EventFollower, kvLeaseStore, ServingLease } from './ha.js';
import type { PushConsumer } from './push-consumer.js';
import { retryUntil } from './retry.js';
import type { SessionHandoff } from './session-handoff.js';

export class ServingRole {
  private follower: EventFollower | null = null;
  private lease: ServingLease | null = null;
  private timer: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private renewing = false;
  private acquiring = false;
  /** The promotion under way, if any. */
  private promotion: Promise<void> | null = null;
  private demoting: Promise<void> | null = null;
  private lastRenewSent = 0;
  private startedAt = 0;
  /** When the lease was taken and serving began (failover measurements). */
  promotedAt = 0;
  /** Promotions and demotions of this node (metrics, tests). */
  readonly counts = { promotions: 0, demotions: 0, barrierRetries: 0 };

  constructor(
    private readonly node: ClusterNode,
    /** Null unless backup is enabled. */
    private readonly leaseKv: KV | null,
    private readonly pushes: PushConsumer,
    private readonly handoff: SessionHandoff,
    private readonly onChange: (serving: boolean) => void,
  ) {}

  /**
   * This node may accept pushes and requests right now: it serves, and (in a
   * pair) its lease cannot have lapsed. A node still promoting accepts nothing:
   * its clients cannot reach it yet, so what it accepted could not be delivered.
   */
  accepting(): boolean {
    return this.node.serving && this.mayWrite();
  }

  /**
   * This node may store session events: always alone; in a pair while its lease
   * cannot have lapsed (promotion included: adopted sessions store their first events).
   */
  mayWrite(): boolean {
    return !this.node.cfg.backup.enabled || this.lease?.valid() === true;
  }

  /** Serve, or stand by for the lease. */
  async start(): Promise<void> {
    const { cfg, logger } = this.node;
    if (!cfg.backup.enabled) {
      await this.pushes.start();
      this.setServing(true);
      return;
    }
    this.follower = this.newFollower();
    await this.follower.start();
    this.lease = new ServingLease(
      kvLeaseStore(this.leaseKv!),
      cfg.backup.serverId,
      cfg.backup.heartbeat.timeoutMs,
      () => performance.now(),
      logger,
    );
    this.startedAt = performance.now();
    const tick = Math.max(20, Math.min(250, cfg.backup.heartbeat.intervalMs / 4));
    this.timer = setInterval(() => void this.tick(), tick);
    this.timer.unref();
    await this.tick();
    // A primary starting alone serves before start() returns (callers and tests read `serving` next).
    await this.promotion;
    logger.info(
      { nodeId: this.node.nodeId, serving: this.node.serving, mode: cfg.backup.mode },
      'HA started',
    );
  }

  /** First step of shutdown: no promotion or renewal while the node drains. */
  stopTicking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Last step of shutdown, once the drain is stored: hand the lease on. */
  async close(): Promise<void> {
    if (this.expiry) clearTimeout(this.expiry);
    await this.follower?.stop().catch(() => {});
    await this.lease?.release();
  }

  private newFollower(): EventFollower {
    const { js, jsm, names, cfg, logger } = this.node;
    return new EventFollower(js, jsm, names, cfg.server.maxQueue, logger);
  }

  private async tick(): Promise<void> {
    const lease = this.lease;
    if (this.node.closed || !lease || this.demoting) return;
    const hb = this.node.cfg.backup.heartbeat;
    if (this.node.serving || this.promotion) {
      if (!lease.valid()) {
        void this.demote('serving lease deadline passed');
        return;
      }
      if (this.renewing || performance.now() - this.lastRenewSent < hb.intervalMs) return;
      this.renewing = true;
      this.lastRenewSent = performance.now();
      try {
        const r = await lease.renew();
        if (r === 'lost') void this.demote('serving lease lost');
        else this.armExpiry();
      } finally {
        this.renewing = false;
      }
      return;
    }
    if (this.acquiring || this.timer === null) return;
    // A backup gives a primary that starts with it one lease period to take the lease first.
    if (this.node.cfg.backup.mode === 'backup' && performance.now() - this.startedAt < hb.timeoutMs) return;
    this.acquiring = true;
    try {
      if (await lease.tryAcquire()) {
        this.lastRenewSent = performance.now();
        this.armExpiry();
        this.promotion = this.promote().finally(() => {
          this.promotion = null;
        });
      }
    } catch (err) {
      this.node.logger.warn({ err }, 'serving lease check failed');
    } finally {
      this.acquiring = false;
    }
  }

  /** Stand down the moment the lease's local deadline passes (not at the next renewal). */
  private armExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    const left = this.lease?.remainingMs() ?? 0;
    this.expiry = setTimeout(() => {
      this.expiry = null;
      if (this.lease && !this.lease.valid() && (this.node.serving || this.promotion))
        void this.demote('serving lease deadline passed');
    }, Math.max(0, left) + 1);
    this.expiry.unref();
  }

  /**
   * Took the lease: confirm the follower has read the whole log (retried until
   * it has; partial state is never adopted), adopt every session it folded,
   * then serve. Gives up (and stands by again) if the lease lapses meanwhile.
   */
  private async promote(): Promise<void> {
    const { directory, nodeId, logger } = this.node;
    const started = performance.now();
    const follower = this.follower;
    const standingDown = () => this.node.closed || !this.mayWrite();
    if (follower) {
      const caughtUp = await retryUntil(() => follower.barrier(2_000), {
        stopped: standingDown,
        onRetry: (_err, delay) => {
          this.counts.barrierRetries++;
          // Its subscription may be stuck on a NATS node that died: follow again from the last record read.
          void follower.resubscribe();
          logger.warn(
            { retryInMs: delay },
            'promotion: the event follower could not confirm it caught up; retrying',
          );
        },
      });
      if (!caughtUp) return;
      this.follower = null;
      const { states, lastSeqs, broken } = await follower.stop();
      const fresh = new Map<string, { lastSeq: number }>();
      for (const id of broken) {
        // Rebuilt from the log now, or on demand later (a START or push claims it): never from a partial read.
        const loaded = await this.handoff.loadState(id).catch(() => undefined);
        if (loaded?.state) {
          states.set(id, loaded.state);
          fresh.set(id, { lastSeq: loaded.lastSeq });
        }
      }
      let adopted = 0;
      for (const s of states.values()) {
        if (this.node.system?.findByOpenid(s.openid)) continue;
        const entry = directory.lookup('openid', s.openid);
        if (entry && entry.node !== nodeId) continue; // another active node's session
        const lastSeq = fresh.get(s.sessionId)?.lastSeq ?? lastSeqs.get(s.sessionId) ?? -1;
        if (this.handoff.adopt(s, lastSeq)) adopted++;
      }
      logger.info({ sessions: adopted }, 'promotion: sessions adopted');
    }
    const consuming = await retryUntil(
      async () => {
        await this.pushes.start();
        return true;
      },
      {
        stopped: standingDown,
        onRetry: (err, delay) =>
          logger.warn({ err, retryInMs: delay }, 'promotion: push consumer did not start; retrying'),
      },
    );
    if (!consuming || !this.mayWrite()) return;
    this.promotedAt = Date.now();
    this.counts.promotions++;
    this.setServing(true);
    logger.info(
      { serverId: this.node.cfg.backup.serverId, ms: Math.round(performance.now() - started) },
      'serving lease taken: serving',
    );
  }

  /** Lost the lease (or it may have lapsed): stop accepting at once, then follow again. */
  private demote(why: string): Promise<void> {
    this.demoting ??= (async () => {
      this.node.logger.warn({ serverId: this.node.cfg.backup.serverId, why }, 'standing by');
      this.counts.demotions++;
      if (this.expiry) clearTimeout(this.expiry);
      this.expiry = null;
      // Locally at once; the key is handed on if NATS is reachable, else it lapses by itself.
      void this.lease!.release();
      this.setServing(false);
      // Pending stores fail (their producers get UNAVAILABLE); actors stop and close their links.
      this.node.log.reset();
      this.node.system?.abandonAll(CloseCode.SERVER_SHUTDOWN);
      this.handoff.reset();
      await this.pushes.stop().catch(() => {});
      // A promotion given up before it took the follower's sessions leaves it running: replace it.
      await this.follower?.stop().catch(() => {});
      this.follower = null;
      await retryUntil(
        async () => {
          const follower = this.newFollower();
          await follower.start();
          this.follower = follower;
          return true;
        },
        {
          stopped: () => this.node.closed,
          onRetry: (err) => this.node.logger.warn({ err }, 'event follower did not start; retrying'),
        },
      );
    })().finally(() => {
      this.demoting = null;
    });
    return this.demoting;
  }

  private setServing(serving: boolean): void {
    if (this.node.serving === serving) return;
    this.node.serving = serving;
    this.onChange(serving);
  }
}
