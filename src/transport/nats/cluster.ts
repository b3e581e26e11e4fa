/**
 * The gateway on NATS (nats.url set): JetStream event log, pushes over NATS,
 * lifecycle events, the session directory across active nodes, and the
 * serving lease of a primary/backup pair. Subjects: docs/protocol.md ("NATS").
 *
 * This only composes a node from its parts: stream-setup.ts,
 * lifecycle-publisher.ts, session-handoff.ts, push-consumer.ts,
 * push-router.ts, serving-role.ts. They share one ClusterNode, so a change of
 * the session system, serving state or shutdown is seen by all of them.
 */
import {
  connect,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  type Subscription,
} from 'nats';
import type { Logger, PushSink, SessionLifecycle } from '../../actors/ports.js';
import type { SessionSystem } from '../../actors/session-system.js';
import type { Cluster } from '../../cluster/port.js';
import type { GatewayConfig } from '../../config/schema.js';
import {
  hasUrlCredentials,
  natsServers,
  redactNatsUrls,
  redactUrlsIn,
} from '../../config/url-credentials.js';
import type { ClusterNode } from './cluster-node.js';
import { natsConnectError, natsSecurity } from './connect-options.js';
import { SessionDirectory } from './directory.js';
import { JetStreamEventLog } from './jetstream-log.js';
import { LifecyclePublisher } from './lifecycle-publisher.js';
import { PushConsumer } from './push-consumer.js';
import { PushRouter } from './push-router.js';
import { ServingRole } from './serving-role.js';
import { SessionHandoff } from './session-handoff.js';
import { ensureReplicas, ensureStreams } from './stream-setup.js';
import { type NatsNames, natsNames } from './subjects.js';

export { REPLY_HEADER } from './push-consumer.js';

export class NatsCluster implements Cluster {
  readonly eventLogKind = 'jetstream';
  readonly names: NatsNames;
  /** Routing identity: the server id, or `ha` for a primary/backup pair (whoever holds the lease). */
  readonly nodeId: string;
  readonly log: JetStreamEventLog;
  onServingChange: ((serving: boolean) => void) | null = null;

  private readonly node: ClusterNode;
  private readonly lifecycle: LifecyclePublisher;
  private readonly handoff: SessionHandoff;
  private readonly pushes: PushConsumer;
  private readonly router: PushRouter;
  private readonly role: ServingRole;
  private readonly subs: Subscription[] = [];

  private constructor(
    readonly cfg: GatewayConfig,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly directory: SessionDirectory,
    leaseKv: KV | null,
    logger: Logger,
  ) {
    this.names = natsNames(cfg.nats.subjectPrefix, cfg.nats.stream);
    this.nodeId = cfg.backup.enabled ? 'ha' : cfg.backup.serverId;
    this.log = new JetStreamEventLog({
      js,
      jsm,
      nc,
      names: this.names,
      logger,
      maxPayload: nc.info?.max_payload,
      storeTimeoutMs: cfg.nats.storeTimeoutMs,
      // A pair's writes are fenced by the lease's local deadline too (a standalone node has no lease).
      mayWrite: () => this.role.mayWrite(),
      onFailed: (sessionId, err) => this.node.system?.fail(sessionId, err),
    });
    this.node = {
      cfg,
      nc,
      js,
      jsm,
      names: this.names,
      nodeId: this.nodeId,
      log: this.log,
      directory,
      logger,
      system: null,
      serving: false,
      closed: false,
      accepting: () => this.role.accepting(),
    };
    this.lifecycle = new LifecyclePublisher(this.node);
    this.handoff = new SessionHandoff(this.node);
    this.pushes = new PushConsumer(this.node, this.handoff);
    this.handoff.bindPushes(this.pushes);
    this.router = new PushRouter(this.node, this.handoff);
    this.role = new ServingRole(this.node, leaseKv, this.pushes, this.handoff, (serving) =>
      this.onServingChange?.(serving),
    );
  }

  /** The node this gateway's directory cache says holds `openid` (stats, tests); null if none. */
  holderOf(openid: string): string | null {
    return this.directory.lookup('openid', openid)?.node ?? null;
  }

  static async connect(cfg: GatewayConfig, logger: Logger): Promise<NatsCluster> {
    const security = await natsSecurity(cfg.nats);
    const servers = redactNatsUrls(cfg.nats.url);
    if (natsServers(cfg.nats.url).some(hasUrlCredentials)) {
      logger.warn(
        { servers, fix: 'nats.token, nats.user + nats.password, nats.creds_file or nats.nkey_seed_file' },
        'NATS credentials in nats.url are visible in ps and wherever the URL is shown; set them apart',
      );
    }
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...security.options,
        name: `gatesvr-${cfg.backup.serverId}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 5_000,
        // No stack captured per request (KV, JetStream API): a few µs each, and nothing here reads them.
        noAsyncTraces: true,
      });
    } catch (err) {
      throw natsConnectError(cfg.nats.url, err);
    }
    logger.info({ servers, tls: security.tls, auth: security.auth }, 'NATS connected');
    try {
      const jsm = await nc.jetstreamManager();
      const js = nc.jetstream({ timeout: 5_000 });
      const names = natsNames(cfg.nats.subjectPrefix, cfg.nats.stream);
      const replicas = cfg.nats.replicas;
      await ensureStreams(jsm, names, replicas);
      const dirKv = await js.views.kv(names.directoryBucket, { history: 1, replicas });
      const leaseKv = cfg.backup.enabled
        ? await js.views.kv(names.leaseBucket, { history: 1, ttl: cfg.backup.heartbeat.timeoutMs, replicas })
        : null;
      await ensureReplicas(
        jsm,
        [`KV_${names.directoryBucket}`, ...(leaseKv ? [`KV_${names.leaseBucket}`] : [])],
        replicas,
      );
      const cluster = new NatsCluster(cfg, nc, js, jsm, new SessionDirectory(dirKv, logger), leaseKv, logger);
      cluster.watchStatus();
      return cluster;
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  get serving(): boolean {
    return this.node.serving;
  }

  /** When the lease was taken and serving began (failover measurements). */
  get promotedAt(): number {
    return this.role.promotedAt;
  }

  /** May accept pushes and client requests right now (serving, lease not lapsed). */
  get accepting(): boolean {
    return this.role.accepting();
  }

  /** The event log can store (NATS connected, stores succeeding). */
  get storeAvailable(): boolean {
    return this.log.available();
  }

  /** A session was dropped after a failed store: its next use here rebuilds it from the log. */
  onSessionFailed(sessionId: string): void {
    this.log.release(sessionId);
  }

  /** Bind the session system (after it is built on `this.log`). */
  attach(system: SessionSystem): void {
    this.node.system = system;
    this.log.bindStates((id) => system.get(id)?.state);
  }

  get eventLog(): JetStreamEventLog {
    return this.log;
  }

  get maxRecordBytes(): number {
    return this.log.maxFrameBytes;
  }

  /** Directory, node services, then serve (or stand by for the lease). */
  async start(onServingChange: (serving: boolean) => void = () => {}): Promise<void> {
    this.onServingChange = onServingChange;
    await this.directory.start();
    this.subs.push(this.router.listen(), this.handoff.listen());
    await this.role.start();
  }

  async close(): Promise<void> {
    if (this.node.closed) return;
    this.node.closed = true;
    this.role.stopTicking();
    // Let the stores of the drain (detach events) complete.
    this.log.flushLingering();
    const deadline = Date.now() + 2_000;
    while (this.log.pendingAppends > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.pushes.close();
    await this.role.close();
    this.directory.stop();
    for (const s of this.subs) s.unsubscribe();
    this.log.close();
    await this.nc.drain().catch(() => {});
  }

  onLifecycle(ev: SessionLifecycle): void {
    if (this.node.closed) return;
    if (ev.type === 'created') this.handoff.reclaimed(ev.openid);
    this.lifecycle.publish(ev);
  }

  /** Before a START is bound here: a session another node holds is moved to this node first. */
  prepareStart(openid: string): Promise<void> {
    return this.node.serving ? this.handoff.claim(openid) : Promise.resolve();
  }

  claim(openid: string): Promise<void> {
    return this.handoff.claim(openid);
  }

  pushSink(): PushSink {
    return this.router.pushSink();
  }

  private watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.log.setConnected(false);
          this.node.logger.warn(
            { server: redactUrlsIn(String(s.data)) },
            'NATS disconnected; producers get 503 until it is back',
          );
        } else if (s.type === 'reconnect') {
          this.log.setConnected(true);
          this.node.logger.info({ server: redactUrlsIn(String(s.data)) }, 'NATS reconnected');
        }
      }
    })().catch(() => {});
  }
}
