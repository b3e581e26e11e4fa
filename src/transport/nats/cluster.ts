/**
 * The gateway on NATS (nats.url set): JetStream event log, pushes over NATS,
 * lifecycle events, the session directory across active nodes, and the
 * serving lease of a primary/backup pair. Subjects: docs/protocol.md ("NATS").
 *
 * Push consumption: every serving node has its own durable consumer on the push
 * stream and sees every push in stream order; the node holding the target
 * session applies it (the push id `js:<stream seq>` makes a redelivery a no-op)
 * and acknowledges the message only once its events are stored. When a session
 * moves between nodes, the old holder applies every push up to a stream
 * position it reports, the new holder every push after it.
 */
import {
  AckPolicy,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  headers,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  type Msg,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type Subscription,
} from 'nats';
import { prepareAdoption, SessionFold } from '../../actors/failover.js';
import type { PushTarget, SessionLifecycle, SessionSystem } from '../../actors/session-system.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { PushResult } from '../../machines/session-machine.js';
import type { SessionState } from '../../machines/session-state.js';
import { CloseCode, ErrorCode, type NotifySyncHint } from '../../protocol/codes.js';
import {
  BroadcastRequest,
  BroadcastResponse,
  UnicastPushRequest,
  UnicastPushResponse,
} from '../../protocol/messages.js';
import { validateUnicast } from '../grpc/gateway-server.js';
import { notifyPayload, type PushSink, pushTarget, toUnicastResponse } from '../grpc/push-adapter.js';
import { type DirectoryEntry, SessionDirectory } from './directory.js';
import { decodeEventRecord } from './event-codec.js';
import { EventFollower, loadSessionRecords, ServingLease } from './ha.js';
import { JetStreamEventLog } from './jetstream-log.js';
import { type NatsNames, natsNames } from './subjects.js';

export interface ClusterLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Header naming a core NATS subject that receives the push's answer (UnicastPushResponse / BroadcastResponse). */
export const REPLY_HEADER = 'Gatesvr-Reply';

const enc = new TextEncoder();
const RELEASE_TIMEOUT_MS = 3_000;
const FORWARD_TIMEOUT_MS = 5_000;

type ParsedPush =
  | { kind: 'unicast'; target: PushTarget; payload: Uint8Array; hint: NotifySyncHint; bindSeq: number }
  | { kind: 'broadcast'; payload: Uint8Array; zone: number }
  | { kind: 'bad'; reason: string; broadcast: boolean };

function unavailable(why: string): PushResult {
  return { ok: false, errorCode: 'UNAVAILABLE', message: `503 ${why}` };
}

export class NatsCluster {
  readonly names: NatsNames;
  /** Routing identity: the server id, or `ha` for a primary/backup pair (whoever holds the lease). */
  readonly nodeId: string;
  readonly log: JetStreamEventLog;
  onServingChange: ((serving: boolean) => void) | null = null;

  private system: SessionSystem | null = null;
  private servingNow = false;
  private closed = false;
  private readonly subs: Subscription[] = [];
  private pushMsgs: ConsumerMessages | null = null;
  /** Stream seq of the last push message this node has dispatched. */
  private processedPushSeq = 0;
  private readonly claiming = new Map<string, Promise<void>>();
  private readonly releasing = new Set<string>();
  private readonly deferred = new Map<string, Array<{ m: JsMsg; p: ParsedPush }>>();
  /** openid -> last push seq the previous holder applied. */
  private readonly skipThrough = new Map<string, number>();
  /** openids handed to another node: their pushes are that node's now. */
  private readonly released = new Set<string>();
  private follower: EventFollower | null = null;
  private lease: ServingLease | null = null;
  private haTimer: NodeJS.Timeout | null = null;
  private haBusy = false;
  private lastRenew = 0;
  private haStartedAt = 0;
  /** When the lease was taken and serving began (failover measurements). */
  promotedAt = 0;

  private constructor(
    readonly cfg: GatewayConfig,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly directory: SessionDirectory,
    private readonly leaseKv: KV | null,
    private readonly logger: ClusterLogger,
  ) {
    this.names = natsNames(cfg.nats.subjectPrefix, cfg.nats.stream);
    this.nodeId = cfg.backup.enabled ? 'ha' : cfg.backup.serverId;
    this.log = new JetStreamEventLog({ js, jsm, nc, names: this.names, logger });
  }

  static async connect(cfg: GatewayConfig, logger: ClusterLogger): Promise<NatsCluster> {
    const nc = await connect({
      servers: cfg.nats.url.split(',').map((s) => s.trim()),
      name: `gatesvr-${cfg.backup.serverId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
      // No stack captured per request (KV, JetStream API): a few µs each, and nothing here reads them.
      noAsyncTraces: true,
    });
    try {
      const jsm = await nc.jetstreamManager();
      const js = nc.jetstream({ timeout: 5_000 });
      const names = natsNames(cfg.nats.subjectPrefix, cfg.nats.stream);
      await ensureStream(jsm, {
        name: names.eventsStream,
        subjects: [names.eventsAll],
        allow_rollup_hdrs: true,
        duplicate_window: nanos(120_000),
      });
      await ensureStream(jsm, {
        name: names.pushStream,
        subjects: [names.pushAll],
        duplicate_window: nanos(120_000),
        max_age: nanos(24 * 3600_000),
      });
      await ensureStream(jsm, {
        name: names.lifecycleStream,
        subjects: [names.lifecycle('>')],
        max_age: nanos(3600_000),
        max_msgs: 1_000_000,
      });
      const dirKv = await js.views.kv(names.directoryBucket, { history: 1 });
      const leaseKv = cfg.backup.enabled
        ? await js.views.kv(names.leaseBucket, { history: 1, ttl: cfg.backup.heartbeat.timeoutMs })
        : null;
      const cluster = new NatsCluster(cfg, nc, js, jsm, new SessionDirectory(dirKv, logger), leaseKv, logger);
      cluster.watchStatus();
      return cluster;
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  get serving(): boolean {
    return this.servingNow;
  }

  /** Bind the session system (after it is built on `this.log`). */
  attach(system: SessionSystem): void {
    this.system = system;
    this.log.bindStates((id) => system.get(id)?.state);
  }

  /** Directory, node services, then serve (or stand by for the lease). */
  async start(): Promise<void> {
    await this.directory.start();
    this.subs.push(
      this.nc.subscribe(this.names.nodePush(this.nodeId), {
        callback: (_e, m) => void this.onForwardedPush(m),
      }),
      this.nc.subscribe(this.names.nodeRelease(this.nodeId), { callback: (_e, m) => void this.onRelease(m) }),
    );
    if (!this.cfg.backup.enabled) {
      await this.startPushConsumer();
      this.setServing(true);
      return;
    }
    this.follower = this.newFollower();
    await this.follower.start();
    this.lease = new ServingLease(this.leaseKv!, this.cfg.backup.serverId, this.logger);
    this.haStartedAt = Date.now();
    const tick = Math.max(50, Math.min(250, this.cfg.backup.heartbeat.intervalMs / 4));
    this.haTimer = setInterval(() => void this.haTick(), tick);
    this.haTimer.unref();
    await this.haTick();
    this.logger.info(
      { nodeId: this.nodeId, serving: this.servingNow, mode: this.cfg.backup.mode },
      'HA started',
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.haTimer) clearInterval(this.haTimer);
    // Let the stores of the drain (detach events) complete.
    this.log.flushLingering();
    const deadline = Date.now() + 2_000;
    while (this.log.pendingAppends > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.pushMsgs?.close().catch(() => {});
    await this.follower?.stop().catch(() => {});
    await this.lease?.release();
    this.directory.stop();
    for (const s of this.subs) s.unsubscribe();
    this.log.close();
    await this.nc.drain().catch(() => {});
  }

  // ---- lifecycle events and directory -------------------------------------------------

  onLifecycle(ev: SessionLifecycle): void {
    if (this.closed) return;
    const entry: DirectoryEntry = { node: this.nodeId, sessionId: ev.sessionId };
    let type: string;
    const extra: Record<string, unknown> = {};
    switch (ev.type) {
      case 'created':
        this.directory.put(ev.openid, entry);
        this.released.delete(ev.openid);
        type = 'start';
        break;
      case 'resumed':
        this.directory.put(ev.openid, entry);
        type = 'resume';
        extra.takeover = ev.takeover;
        break;
      case 'login':
        type = 'login';
        extra.zone = ev.zone;
        break;
      case 'detached':
        type = 'detach';
        break;
      case 'ended':
        this.directory.remove(ev.openid, entry);
        type = ev.reason === 'stop' ? 'logout' : 'close';
        extra.reason = ev.reason;
        break;
    }
    const body = {
      type,
      sessionId: ev.sessionId,
      openid: ev.openid,
      node: this.cfg.backup.serverId,
      at: Date.now(),
      ...extra,
    };
    try {
      this.nc.publish(this.names.lifecycle(type), enc.encode(JSON.stringify(body)));
    } catch {
      // connection closing
    }
  }

  // ---- takeover across nodes ----------------------------------------------------------

  /**
   * START on this node: when another node holds the openid's session, have it
   * hand the session over (it closes its link with 0x11), then rebuild it here
   * from the log so the START resumes it. Also reloads this node's own sessions
   * after a restart.
   */
  /**
   * Before a START is bound here: a session another node holds is moved to this
   * node first (its node releases it; this one rebuilds it from the log).
   */
  prepareStart(openid: string): Promise<void> {
    return this.servingNow ? this.claim(openid) : Promise.resolve();
  }

  claim(openid: string): Promise<void> {
    const local = this.system?.findByOpenid(openid);
    if (local && !local.isEnded) return Promise.resolve();
    const running = this.claiming.get(openid);
    if (running) return running;
    const p = this.doClaim(openid)
      .catch((err: unknown) => this.logger.warn({ openid, err: String(err) }, 'session claim failed'))
      .finally(() => {
        this.claiming.delete(openid);
        this.drainDeferred(openid);
      });
    this.claiming.set(openid, p);
    return p;
  }

  private async doClaim(openid: string): Promise<void> {
    const entry = await this.directory.fetch(openid);
    if (!entry) return;
    let pushSeq = 0;
    if (entry.node !== this.nodeId) {
      try {
        const r = await this.nc.request(
          this.names.nodeRelease(entry.node),
          enc.encode(JSON.stringify({ openid })),
          {
            timeout: RELEASE_TIMEOUT_MS,
          },
        );
        pushSeq = (JSON.parse(r.string()) as { pushSeq?: number }).pushSeq ?? 0;
      } catch (err) {
        this.logger.warn(
          { openid, node: entry.node, err: String(err) },
          'holder did not hand over; rebuilding from the log',
        );
      }
    }
    if (this.system?.findByOpenid(openid)) return;
    const state = await this.loadState(entry.sessionId);
    if (!state || !this.adopt(state)) {
      if (entry.node === this.nodeId) this.directory.remove(openid, entry);
      return;
    }
    if (pushSeq > 0) this.skipThrough.set(openid, pushSeq);
    this.directory.put(openid, { node: this.nodeId, sessionId: state.sessionId });
    this.logger.info({ openid, sessionId: state.sessionId, from: entry.node, pushSeq }, 'session moved here');
  }

  private async loadState(sessionId: string): Promise<SessionState | undefined> {
    const fold = new SessionFold(this.cfg.server.maxQueue);
    for (const data of await loadSessionRecords(this.js, this.jsm, this.names, sessionId)) {
      fold.apply(sessionId, decodeEventRecord(data));
    }
    return fold.get(sessionId);
  }

  /** Run a session rebuilt from the log here (detached; orphaned requests answered 503). */
  private adopt(state: SessionState): boolean {
    const system = this.system;
    if (!system) return false;
    const a = prepareAdoption(state, Date.now(), this.cfg.server.resumeWindowMs);
    if (!a) return false;
    this.released.delete(state.openid);
    this.log.release(state.sessionId);
    const actor = system.restore(state);
    for (const clientSeq of a.orphanedRequests) {
      actor.send({
        type: 'UPSTREAM_FAILED',
        clientSeq,
        code: ErrorCode.UPSTREAM_UNAVAILABLE,
        message: 'upstream unavailable',
        detail: 'the gateway that forwarded this request is gone; its answer was lost',
      });
    }
    actor.send({ type: 'TICK' }); // arms the session's timers
    return true;
  }

  /** Another node takes one of our sessions over. */
  private async onRelease(m: Msg): Promise<void> {
    let openid = '';
    try {
      openid = (JSON.parse(m.string()) as { openid: string }).openid;
      const system = this.system;
      if (!system?.findByOpenid(openid)) {
        m.respond(enc.encode(JSON.stringify({ sessionId: null, pushSeq: 0 })));
        return;
      }
      // 1. apply every push stored so far (the new holder skipped them), 2. hold later ones back.
      await this.pushBarrier(2_000);
      this.releasing.add(openid);
      const sessionId = await system.handOff(openid, CloseCode.SESSION_TAKEN_OVER);
      const held = this.deferred.get(openid);
      const pushSeq = held && held.length > 0 ? held[0]!.m.seq - 1 : this.processedPushSeq;
      if (sessionId) {
        // Its ACKs and attach/detach events are stored without the actor waiting: store them before it moves.
        await this.log.settled(sessionId);
        this.log.release(sessionId);
      }
      this.released.add(openid);
      this.releasing.delete(openid);
      this.drainDeferred(openid);
      m.respond(enc.encode(JSON.stringify({ sessionId, pushSeq })));
    } catch (err) {
      this.releasing.delete(openid);
      this.logger.warn({ openid, err: String(err) }, 'session hand-off failed');
    }
  }

  /** Until this node has dispatched every push stored before the call. */
  private async pushBarrier(timeoutMs: number): Promise<void> {
    if (!this.pushMsgs) return;
    const last = (await this.jsm.streams.info(this.names.pushStream)).state.last_seq;
    const deadline = Date.now() + timeoutMs;
    while (this.processedPushSeq < last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  // ---- pushes -------------------------------------------------------------------------

  /** gRPC pushes: refused with 503 when nothing can be stored; forwarded to the node holding the session. */
  pushSink(): PushSink {
    return {
      push: (target, payload, hint, bindSeq, pushId) =>
        this.routePush(target, payload, hint, bindSeq, pushId),
      broadcast: async (payload, zone, pushId) => {
        if (!this.servingNow) throw new Error('503 standby: this gateway does not hold the serving lease');
        if (!this.log.available()) throw new Error('503 event log (JetStream) unavailable');
        return this.system!.broadcast(payload, zone, pushId);
      },
    };
  }

  private async routePush(
    target: PushTarget,
    payload: Uint8Array,
    hint: NotifySyncHint,
    bindSeq: number,
    pushId?: string,
  ): Promise<PushResult> {
    const system = this.system!;
    if (!this.servingNow) return unavailable('standby: this gateway does not hold the serving lease');
    if (!this.log.available()) return unavailable('event log (JetStream) unavailable; nothing accepted');
    const actor = system.find(target);
    if (actor && !actor.isEnded) return system.push(target, payload, hint, bindSeq, pushId);
    const entry = this.directory.lookup(target.kind, target.id);
    if (!entry) return system.push(target, payload, hint, bindSeq, pushId);
    if (entry.node === this.nodeId) {
      await this.claim(entry.openid);
      return system.push(target, payload, hint, bindSeq, pushId);
    }
    const h = headers();
    h.set('target-kind', target.kind);
    h.set('target-id', target.id);
    h.set('hint', String(hint));
    h.set('bind', String(bindSeq));
    if (pushId) h.set('push-id', pushId);
    try {
      const r = await this.nc.request(this.names.nodePush(entry.node), payload, {
        timeout: FORWARD_TIMEOUT_MS,
        headers: h,
      });
      return JSON.parse(r.string()) as PushResult;
    } catch (err) {
      return unavailable(`node ${entry.node} holding the session is unreachable (${String(err)})`);
    }
  }

  private async onForwardedPush(m: Msg): Promise<void> {
    const h = m.headers;
    const system = this.system;
    let r: PushResult;
    if (!h || !system) r = { ok: false, errorCode: 'SESSION_NOT_FOUND', message: 'bad forwarded push' };
    else if (!this.servingNow) r = unavailable('standby');
    else if (!this.log.available()) r = unavailable('event log (JetStream) unavailable');
    else {
      const target: PushTarget = {
        kind: h.get('target-kind') === 'session' ? 'session' : 'openid',
        id: h.get('target-id'),
      };
      if (!system.find(target)) {
        const entry = this.directory.lookup(target.kind, target.id);
        if (entry && entry.node === this.nodeId) await this.claim(entry.openid);
      }
      const pushId = h.get('push-id');
      r = await system.push(
        target,
        m.data,
        Number(h.get('hint')) as NotifySyncHint,
        Number(h.get('bind')) || 0,
        pushId === '' ? undefined : pushId,
      );
    }
    m.respond(enc.encode(JSON.stringify(r)));
  }

  /**
   * This node's durable push consumer, (re)created at the first push not yet
   * acknowledged: a redelivery after a failover then keeps stream order, and
   * the push ids make pushes already applied no-ops.
   */
  private async startPushConsumer(): Promise<void> {
    const durable = `push-${this.nodeId}`;
    const stream = this.names.pushStream;
    let startSeq = 0;
    try {
      const info = await this.jsm.consumers.info(stream, durable);
      startSeq = info.ack_floor.stream_seq + 1;
      await this.jsm.consumers.delete(stream, durable);
    } catch {
      // first start of this node: only pushes published from now on
    }
    await this.jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: this.names.pushAll,
      max_ack_pending: 20_000,
      ack_wait: nanos(30_000),
      ...(startSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const consumer = await this.js.consumers.get(stream, durable);
    const msgs = await consumer.consume({ max_messages: 2_000 });
    this.pushMsgs = msgs;
    void (async () => {
      try {
        for await (const m of msgs) {
          try {
            this.onPushMessage(m);
          } catch (err) {
            this.logger.warn({ seq: m.seq, subject: m.subject, err: String(err) }, 'push message failed');
            m.nak(1_000);
          }
        }
      } catch (err) {
        if (!this.closed) this.logger.warn({ err: String(err) }, 'push consumer stopped');
      }
    })();
  }

  private async stopPushConsumer(): Promise<void> {
    const msgs = this.pushMsgs;
    this.pushMsgs = null;
    await msgs?.close().catch(() => {});
  }

  private parsePush(m: JsMsg): ParsedPush {
    const rest = m.subject.slice(this.names.pushAll.length - 1);
    const dot = rest.indexOf('.');
    const kind = dot < 0 ? rest : rest.slice(0, dot);
    const token = dot < 0 ? '' : rest.slice(dot + 1);
    try {
      if (kind === 'broadcast' || kind === 'zone') {
        const req = BroadcastRequest.decode(m.data);
        const zone = kind === 'zone' ? Number(token) : (req.zone ?? 0);
        if (!Number.isSafeInteger(zone) || zone < 0)
          return { kind: 'bad', reason: `zone must be >= 0, got ${token}`, broadcast: true };
        return { kind: 'broadcast', payload: notifyPayload(req, true), zone };
      }
      if (kind === 'openid' || kind === 'session') {
        const req = UnicastPushRequest.decode(m.data);
        if (!req.targetId) {
          req.targetType = kind;
          req.targetId = token;
        } else if (!req.targetType) req.targetType = kind;
        const bad = validateUnicast(req);
        if (bad) return { kind: 'bad', reason: bad, broadcast: false };
        return {
          kind: 'unicast',
          target: pushTarget(req.targetType, req.targetId),
          payload: notifyPayload(req),
          hint: (req.syncHint ?? 0) as NotifySyncHint,
          bindSeq: req.bindClientSeqId ?? 0,
        };
      }
      return { kind: 'bad', reason: `unknown push subject ${m.subject}`, broadcast: false };
    } catch {
      return {
        kind: 'bad',
        reason: 'undecodable push message',
        broadcast: kind === 'broadcast' || kind === 'zone',
      };
    }
  }

  private onPushMessage(m: JsMsg): void {
    const p = this.parsePush(m);
    if (m.seq > this.processedPushSeq) this.processedPushSeq = m.seq;
    if (p.kind === 'bad') {
      m.term();
      if (p.broadcast)
        this.reply(m, BroadcastResponse.encode({ success: false, message: `BAD_REQUEST: ${p.reason}` }));
      else
        this.reply(
          m,
          UnicastPushResponse.encode({ success: false, message: p.reason, errorCode: 'BAD_REQUEST' }),
        );
      return;
    }
    if (p.kind === 'broadcast') {
      if (!this.log.available()) {
        m.nak(500);
        return;
      }
      this.system!.broadcast(p.payload, p.zone, `js:${m.seq}`).then(
        (n) => {
          m.ack();
          this.reply(
            m,
            BroadcastResponse.encode({
              success: true,
              message: `delivered to ${n} sessions`,
              deliveredCount: n,
            }),
          );
        },
        () => m.nak(500),
      );
      return;
    }
    const openid = this.openidOf(p.target);
    if (openid !== undefined && (this.claiming.has(openid) || this.releasing.has(openid))) {
      this.defer(openid, m, p);
      return;
    }
    this.deliverUnicast(m, p, openid, false);
  }

  private openidOf(target: PushTarget): string | undefined {
    if (target.kind === 'openid') return target.id;
    return this.system?.get(target.id)?.openid ?? this.directory.lookup('session', target.id)?.openid;
  }

  private defer(openid: string, m: JsMsg, p: ParsedPush): void {
    let list = this.deferred.get(openid);
    if (!list) {
      list = [];
      this.deferred.set(openid, list);
    }
    list.push({ m, p });
  }

  private drainDeferred(openid: string): void {
    const list = this.deferred.get(openid);
    if (!list) return;
    this.deferred.delete(openid);
    for (const { m, p } of list) {
      if (p.kind === 'unicast') this.deliverUnicast(m, p, openid, true);
    }
  }

  private deliverUnicast(
    m: JsMsg,
    p: Extract<ParsedPush, { kind: 'unicast' }>,
    openid: string | undefined,
    claimed: boolean,
  ): void {
    const system = this.system!;
    if (openid !== undefined) {
      if ((this.skipThrough.get(openid) ?? 0) >= m.seq || this.released.has(openid)) {
        m.ack(); // applied by the node that held the session then / another node's now
        return;
      }
    }
    const actor = system.find(p.target);
    if (actor && !actor.isEnded) {
      if (!this.log.available()) {
        m.nak(500);
        return;
      }
      system.push(p.target, p.payload, p.hint, p.bindSeq, `js:${m.seq}`).then((r) => {
        if (!r.ok && r.errorCode === 'UNAVAILABLE') {
          m.nak(500);
          return;
        }
        m.ack();
        this.reply(m, UnicastPushResponse.encode(toUnicastResponse(r)));
      });
      return;
    }
    const entry = this.directory.lookup(p.target.kind, p.target.id);
    if (entry && entry.node === this.nodeId && !claimed) {
      // Ours but not loaded (this node restarted): rebuild it, then deliver.
      this.defer(entry.openid, m, p);
      void this.claim(entry.openid);
      return;
    }
    m.ack();
    if (!entry || entry.node === this.nodeId) {
      this.reply(
        m,
        UnicastPushResponse.encode(
          toUnicastResponse({
            ok: false,
            errorCode: 'SESSION_NOT_FOUND',
            message: `no session for ${p.target.kind} ${p.target.id}`,
          }),
        ),
      );
    }
  }

  private reply(m: JsMsg, data: Uint8Array): void {
    const to = m.headers?.get(REPLY_HEADER);
    if (!to) return;
    try {
      this.nc.publish(to, data);
    } catch {
      // closing
    }
  }

  // ---- primary / backup ---------------------------------------------------------------

  private newFollower(): EventFollower {
    return new EventFollower(this.js, this.jsm, this.names, this.cfg.server.maxQueue, this.logger);
  }

  private async haTick(): Promise<void> {
    if (this.haBusy || this.closed || !this.lease) return;
    this.haBusy = true;
    try {
      const hb = this.cfg.backup.heartbeat;
      if (!this.servingNow) {
        // A backup gives a primary that starts with it one lease period to take the lease first.
        if (this.cfg.backup.mode === 'backup' && Date.now() - this.haStartedAt < hb.timeoutMs) return;
        if (await this.lease.tryAcquire()) {
          this.lastRenew = Date.now();
          await this.promote();
        }
      } else if (Date.now() - this.lastRenew >= hb.intervalMs) {
        this.lastRenew = Date.now();
        if (!(await this.lease.renew())) await this.demote();
      }
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'serving lease check failed');
    } finally {
      this.haBusy = false;
    }
  }

  /** Took the lease: adopt every session the follower kept ready, then serve. */
  private async promote(): Promise<void> {
    const started = Date.now();
    const follower = this.follower;
    this.follower = null;
    let adopted = 0;
    if (follower) {
      const caughtUp = await follower.barrier(2_000);
      if (!caughtUp) this.logger.warn({}, 'promotion: event follower did not confirm it caught up');
      const { states, broken } = await follower.stop();
      for (const id of broken) {
        const s = await this.loadState(id).catch(() => undefined);
        if (s) states.set(id, s);
      }
      for (const s of states.values()) {
        if (this.system?.findByOpenid(s.openid)) continue;
        const entry = this.directory.lookup('openid', s.openid);
        if (entry && entry.node !== this.nodeId) continue; // another active node's session
        if (this.adopt(s)) adopted++;
      }
    }
    await this.startPushConsumer();
    this.promotedAt = Date.now();
    this.setServing(true);
    this.logger.info(
      { serverId: this.cfg.backup.serverId, sessions: adopted, ms: Date.now() - started },
      'serving lease taken: serving',
    );
  }

  /** Lost the lease (another gateway serves now): stop serving, follow again. */
  private async demote(): Promise<void> {
    this.logger.warn({ serverId: this.cfg.backup.serverId }, 'serving lease lost: standing by');
    this.setServing(false);
    await this.stopPushConsumer();
    this.system?.abandonAll(CloseCode.SERVER_SHUTDOWN);
    this.follower = this.newFollower();
    await this.follower.start();
  }

  private setServing(serving: boolean): void {
    if (this.servingNow === serving) return;
    this.servingNow = serving;
    this.onServingChange?.(serving);
  }

  private watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.log.setConnected(false);
          this.logger.warn(
            { server: String(s.data) },
            'NATS disconnected; producers get 503 until it is back',
          );
        } else if (s.type === 'reconnect') {
          this.log.setConnected(true);
          this.logger.info({ server: String(s.data) }, 'NATS reconnected');
        }
      }
    })().catch(() => {});
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: { name: string; subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch {
    await jsm.streams.add({
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      ...cfg,
    });
  }
}
