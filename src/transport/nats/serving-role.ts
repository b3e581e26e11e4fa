/**
 * Whether this node serves. A standalone node always does. In a
 * primary/backup pair only the holder of the serving lease does; the other
 * folds the event log as it arrives, so that taking the lease over costs no
 * replay: it adopts every session it already holds in memory.
 */
import type { KV } from 'nats';
import { CloseCode } from '../../protocol/codes.js';
import type { ClusterNode } from './cluster-node.js';
import { EventFollower, ServingLease } from './ha.js';
import type { PushConsumer } from './push-consumer.js';
import type { SessionHandoff } from './session-handoff.js';

export class ServingRole {
  private follower: EventFollower | null = null;
  private lease: ServingLease | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private lastRenew = 0;
  private startedAt = 0;
  /** When the lease was taken and serving began (failover measurements). */
  promotedAt = 0;

  constructor(
    private readonly node: ClusterNode,
    /** Null unless backup is enabled. */
    private readonly leaseKv: KV | null,
    private readonly pushes: PushConsumer,
    private readonly handoff: SessionHandoff,
    private readonly onChange: (serving: boolean) => void,
  ) {}

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
    this.lease = new ServingLease(this.leaseKv!, cfg.backup.serverId, logger);
    this.startedAt = Date.now();
    const tick = Math.max(50, Math.min(250, cfg.backup.heartbeat.intervalMs / 4));
    this.timer = setInterval(() => void this.tick(), tick);
    this.timer.unref();
    await this.tick();
    logger.info(
      { nodeId: this.node.nodeId, serving: this.node.serving, mode: cfg.backup.mode },
      'HA started',
    );
  }

  /** First step of shutdown: no promotion or renewal while the node drains. */
  stopTicking(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Last step of shutdown, once the drain is stored: hand the lease on. */
  async close(): Promise<void> {
    await this.follower?.stop().catch(() => {});
    await this.lease?.release();
  }

  private newFollower(): EventFollower {
    const { js, jsm, names, cfg, logger } = this.node;
    return new EventFollower(js, jsm, names, cfg.server.maxQueue, logger);
  }

  private async tick(): Promise<void> {
    if (this.busy || this.node.closed || !this.lease) return;
    this.busy = true;
    try {
      const hb = this.node.cfg.backup.heartbeat;
      if (!this.node.serving) {
        // A backup gives a primary that starts with it one lease period to take the lease first.
        if (this.node.cfg.backup.mode === 'backup' && Date.now() - this.startedAt < hb.timeoutMs) return;
        if (await this.lease.tryAcquire()) {
          this.lastRenew = Date.now();
          await this.promote();
        }
      } else if (Date.now() - this.lastRenew >= hb.intervalMs) {
        this.lastRenew = Date.now();
        if (!(await this.lease.renew())) await this.demote();
      }
    } catch (err) {
      this.node.logger.warn({ err: String(err) }, 'serving lease check failed');
    } finally {
      this.busy = false;
    }
  }

  /** Took the lease: adopt every session the follower kept ready, then serve. */
  private async promote(): Promise<void> {
    const { directory, nodeId, logger } = this.node;
    const started = Date.now();
    const follower = this.follower;
    this.follower = null;
    let adopted = 0;
    if (follower) {
      const caughtUp = await follower.barrier(2_000);
      if (!caughtUp) logger.warn({}, 'promotion: event follower did not confirm it caught up');
      const { states, broken } = await follower.stop();
      for (const id of broken) {
        const s = await this.handoff.loadState(id).catch(() => undefined);
        if (s) states.set(id, s);
      }
      for (const s of states.values()) {
        if (this.node.system?.findByOpenid(s.openid)) continue;
        const entry = directory.lookup('openid', s.openid);
        if (entry && entry.node !== nodeId) continue; // another active node's session
        if (this.handoff.adopt(s)) adopted++;
      }
    }
    await this.pushes.start();
    this.promotedAt = Date.now();
    this.setServing(true);
    logger.info(
      { serverId: this.node.cfg.backup.serverId, sessions: adopted, ms: Date.now() - started },
      'serving lease taken: serving',
    );
  }

  /** Lost the lease (another gateway serves now): stop serving, follow again. */
  private async demote(): Promise<void> {
    this.node.logger.warn({ serverId: this.node.cfg.backup.serverId }, 'serving lease lost: standing by');
    this.setServing(false);
    await this.pushes.stop();
    this.node.system?.abandonAll(CloseCode.SERVER_SHUTDOWN);
    this.follower = this.newFollower();
    await this.follower.start();
  }

  private setServing(serving: boolean): void {
    if (this.node.serving === serving) return;
    this.node.serving = serving;
    this.onChange(serving);
  }
}
