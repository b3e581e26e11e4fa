/**
 * Push consumption: every serving node has its own durable consumer on the
 * push stream and sees every push in stream order; the node holding the target
 * session applies it (its push id makes a redelivery a no-op)
 * and acknowledges the message only once its events are stored. The push id is
 * the body's push_id, else the Nats-Msg-Id header, else `js:<stream seq>`
 * (push-message.ts): a redelivery, or a republish after the stream's own
 * duplicate window, is a no-op for a session that accepted it. Pushes for a
 * session that is moving between nodes are held back until the move settles
 * which node applies them (see session-handoff.ts).
 */
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg, nanos } from 'nats';
import type { PushTarget } from '../../actors/ports.js';
import { BroadcastResponse, UnicastPushResponse } from '../../protocol/messages.js';
import { toUnicastResponse } from '../push-requests.js';
import type { ClusterNode } from './cluster-node.js';
import { type ParsedPush, parsePush, type UnicastPush } from './push-message.js';
import { type ReplySubjectPolicy, replySubjectRefusal } from './reply-subject.js';
import type { HeldPushes, SessionHandoff } from './session-handoff.js';

/**
 * Header naming a core NATS subject that receives the push's answer
 * (UnicastPushResponse / BroadcastResponse); only subjects allowed by
 * reply-subject.ts are used, others are dropped (the push is still processed).
 */
export const REPLY_HEADER = 'Gatesvr-Reply';

/** At most one debug line per this interval about refused reply subjects. */
const REFUSED_LOG_INTERVAL_MS = 10_000;

export class PushConsumer implements HeldPushes {
  private msgs: ConsumerMessages | null = null;
  /** Stream seq of the last push message this node has dispatched. */
  private processedSeq = 0;
  private readonly held = new Map<string, Array<{ m: JsMsg; p: ParsedPush }>>();
  private readonly replyPolicy: ReplySubjectPolicy;
  /** Answers not published because their Gatesvr-Reply subject was refused. */
  refusedReplies = 0;
  private refusedLoggedAt = Number.NEGATIVE_INFINITY;
  private refusedSinceLog = 0;

  constructor(
    private readonly node: ClusterNode,
    private readonly handoff: SessionHandoff,
  ) {
    this.replyPolicy = { gatewayPrefix: node.cfg.nats.subjectPrefix, replyPrefix: node.cfg.nats.replyPrefix };
  }

  /**
   * This node's durable push consumer, (re)created at the first push not yet
   * acknowledged: a redelivery after a failover then keeps stream order, and
   * the push ids make pushes already applied no-ops.
   */
  async start(): Promise<void> {
    const { js, jsm, names, nodeId, logger } = this.node;
    const durable = `push-${nodeId}`;
    const stream = names.pushStream;
    let startSeq = 0;
    try {
      const info = await jsm.consumers.info(stream, durable);
      startSeq = info.ack_floor.stream_seq + 1;
      await jsm.consumers.delete(stream, durable);
    } catch {
      // first start of this node: only pushes published from now on
    }
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: names.pushAll,
      max_ack_pending: 20_000,
      ack_wait: nanos(30_000),
      ...(startSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const consumer = await js.consumers.get(stream, durable);
    const msgs = await consumer.consume({ max_messages: 2_000 });
    this.msgs = msgs;
    void (async () => {
      try {
        for await (const m of msgs) {
          try {
            this.onMessage(m);
          } catch (err) {
            logger.warn({ seq: m.seq, subject: m.subject, err }, 'push message failed');
            m.nak(1_000);
          }
        }
      } catch (err) {
        if (!this.node.closed) logger.warn({ err }, 'push consumer stopped');
      }
    })();
  }

  /** Standing by: another node consumes now. */
  async stop(): Promise<void> {
    const msgs = this.msgs;
    this.msgs = null;
    await msgs?.close().catch(() => {});
  }

  /** Shutdown keeps `msgs` set, so a release answered while draining still runs its barrier. */
  async close(): Promise<void> {
    await this.msgs?.close().catch(() => {});
  }

  async barrier(timeoutMs: number): Promise<void> {
    if (!this.msgs) return;
    const last = (await this.node.jsm.streams.info(this.node.names.pushStream)).state.last_seq;
    const deadline = Date.now() + timeoutMs;
    while (this.processedSeq < last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  handOffSeq(openid: string): number {
    const held = this.held.get(openid);
    return held && held.length > 0 ? held[0]!.m.seq - 1 : this.processedSeq;
  }

  drainHeld(openid: string): void {
    const list = this.held.get(openid);
    if (!list) return;
    this.held.delete(openid);
    for (const { m, p } of list) {
      if (p.kind === 'unicast') this.deliverUnicast(m, p, openid, true);
    }
  }

  private onMessage(m: JsMsg): void {
    const p = parsePush(m, this.node.names.pushAll);
    if (m.seq > this.processedSeq) this.processedSeq = m.seq;
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
      if (!this.mayApply()) {
        m.nak(500);
        return;
      }
      this.node.system!.broadcast(p.payload, p.zone, p.pushId).then(
        (n) => {
          // Stood down meanwhile: the next holder redelivers it (sessions that stored it skip it by id).
          if (!this.node.accepting()) {
            m.nak(500);
            return;
          }
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
    if (openid !== undefined && this.handoff.moving(openid)) {
      this.hold(openid, m, p);
      return;
    }
    this.deliverUnicast(m, p, openid, false);
  }

  private openidOf(target: PushTarget): string | undefined {
    if (target.kind === 'openid') return target.id;
    return (
      this.node.system?.get(target.id)?.openid ?? this.node.directory.lookup('session', target.id)?.openid
    );
  }

  private hold(openid: string, m: JsMsg, p: ParsedPush): void {
    let list = this.held.get(openid);
    if (!list) {
      list = [];
      this.held.set(openid, list);
    }
    list.push({ m, p });
  }

  private deliverUnicast(m: JsMsg, p: UnicastPush, openid: string | undefined, claimed: boolean): void {
    const { system, directory, nodeId } = this.node;
    if (openid !== undefined) {
      if (this.handoff.appliedElsewhere(openid, m.seq)) {
        m.ack(); // applied by the node that held the session then / another node's now
        return;
      }
    }
    const actor = system!.find(p.target);
    if (actor && !actor.isEnded) {
      if (!this.mayApply()) {
        m.nak(500);
        return;
      }
      system!.push(p.target, p.payload, p.hint, p.bindSeq, p.pushId).then((r) => {
        if ((!r.ok && r.errorCode === 'UNAVAILABLE') || !this.node.accepting()) {
          m.nak(500);
          return;
        }
        m.ack();
        this.reply(m, UnicastPushResponse.encode(toUnicastResponse(r)));
      });
      return;
    }
    const entry = directory.lookup(p.target.kind, p.target.id);
    if (entry && entry.node === nodeId && !claimed) {
      // Ours but not loaded (this node restarted): rebuild it, then deliver.
      this.hold(entry.openid, m, p);
      void this.handoff.claim(entry.openid);
      return;
    }
    m.ack();
    if (!entry || entry.node === nodeId) {
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

  /** Pushes may be applied now (else the message is NAKed, to be redelivered to whoever serves). */
  private mayApply(): boolean {
    return this.node.log.available() && this.node.accepting();
  }

  private reply(m: JsMsg, data: Uint8Array): void {
    const to = m.headers?.get(REPLY_HEADER);
    if (!to) return;
    const refusal = replySubjectRefusal(to, this.replyPolicy);
    if (refusal !== null) {
      this.refuseReply(m, to, refusal);
      return;
    }
    try {
      this.node.nc.publish(to, data);
    } catch {
      // closing
    }
  }

  private refuseReply(m: JsMsg, to: string, reason: string): void {
    this.refusedReplies++;
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.refusedLoggedAt < REFUSED_LOG_INTERVAL_MS) return;
    this.refusedLoggedAt = now;
    this.node.logger.debug?.(
      { seq: m.seq, replyTo: to.slice(0, 80), reason, refused: this.refusedSinceLog },
      'Gatesvr-Reply subject refused; answer dropped',
    );
    this.refusedSinceLog = 0;
  }
}
