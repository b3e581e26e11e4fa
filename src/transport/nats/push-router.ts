/**
 * gRPC pushes on a cluster: applied here when this node holds the target
 * session, else forwarded over core NATS to the node the session directory
 * names; and the receiving end of such forwards.
 */
import { headers, type Msg, type Subscription } from 'nats';
import type { PushSink, PushTarget } from '../../actors/ports.js';
import { messageOf, UnavailableError } from '../../errors.js';
import type { PushResult } from '../../machines/session-machine.js';
import type { NotifySyncHint } from '../../protocol/codes.js';
import type { ClusterNode } from './cluster-node.js';
import type { SessionHandoff } from './session-handoff.js';

const enc = new TextEncoder();
const FORWARD_TIMEOUT_MS = 5_000;

function unavailable(why: string): PushResult {
  return { ok: false, errorCode: 'UNAVAILABLE', message: `503 ${why}` };
}

export class PushRouter {
  constructor(
    private readonly node: ClusterNode,
    private readonly handoff: SessionHandoff,
  ) {}

  /** Accept pushes other nodes forward to this one. */
  listen(): Subscription {
    const { nc, names, nodeId } = this.node;
    return nc.subscribe(names.nodePush(nodeId), { callback: (_e, m) => void this.onForwardedPush(m) });
  }

  /** gRPC pushes: refused with 503 when nothing can be stored; forwarded to the node holding the session. */
  pushSink(): PushSink {
    return {
      push: (target, payload, hint, bindSeq, pushId) => this.route(target, payload, hint, bindSeq, pushId),
      broadcast: async (payload, zone, pushId) => {
        if (!this.node.accepting())
          throw new UnavailableError('standby: this gateway does not hold the serving lease');
        if (!this.node.log.available()) throw new UnavailableError('event log (JetStream) unavailable');
        const n = await this.node.system!.broadcast(payload, zone, pushId);
        // Stood down meanwhile: answers may not claim acceptance (the new holder may not have these).
        if (!this.node.accepting()) throw new UnavailableError('the serving lease lapsed while broadcasting');
        return n;
      },
    };
  }

  /** A gRPC push: applied here or forwarded (`routeOnce`), then `confirmed`. */
  private async route(
    target: PushTarget,
    payload: Uint8Array,
    hint: NotifySyncHint,
    bindSeq: number,
    pushId?: string,
  ): Promise<PushResult> {
    return this.confirmed(await this.routeOnce(target, payload, hint, bindSeq, pushId));
  }

  /** "Accepted" only while still accepting: a node that stood down meanwhile answers UNAVAILABLE. */
  private confirmed(r: PushResult): PushResult {
    return r.ok && !this.node.accepting()
      ? unavailable('the serving lease lapsed before the push was answered')
      : r;
  }

  private async routeOnce(
    target: PushTarget,
    payload: Uint8Array,
    hint: NotifySyncHint,
    bindSeq: number,
    pushId?: string,
  ): Promise<PushResult> {
    const { directory, nodeId } = this.node;
    const system = this.node.system!;
    if (!this.node.accepting()) return unavailable('standby: this gateway does not hold the serving lease');
    if (!this.node.log.available()) return unavailable('event log (JetStream) unavailable; nothing accepted');
    const actor = system.find(target);
    if (actor && !actor.isEnded) return system.push(target, payload, hint, bindSeq, pushId);
    const entry = directory.lookup(target.kind, target.id);
    if (!entry) return system.push(target, payload, hint, bindSeq, pushId);
    if (entry.node === nodeId) {
      await this.handoff.claim(entry.openid);
      return system.push(target, payload, hint, bindSeq, pushId);
    }
    const h = headers();
    h.set('target-kind', target.kind);
    h.set('target-id', target.id);
    h.set('hint', String(hint));
    h.set('bind', String(bindSeq));
    if (pushId) h.set('push-id', pushId);
    try {
      const r = await this.node.nc.request(this.node.names.nodePush(entry.node), payload, {
        timeout: FORWARD_TIMEOUT_MS,
        headers: h,
      });
      return JSON.parse(r.string()) as PushResult;
    } catch (err) {
      return unavailable(`node ${entry.node} holding the session is unreachable (${messageOf(err)})`);
    }
  }

  private async onForwardedPush(m: Msg): Promise<void> {
    const h = m.headers;
    const system = this.node.system;
    let r: PushResult;
    if (!h || !system) r = { ok: false, errorCode: 'SESSION_NOT_FOUND', message: 'bad forwarded push' };
    else if (!this.node.accepting()) r = unavailable('standby');
    else if (!this.node.log.available()) r = unavailable('event log (JetStream) unavailable');
    else {
      const target: PushTarget = {
        kind: h.get('target-kind') === 'session' ? 'session' : 'openid',
        id: h.get('target-id'),
      };
      if (!system.find(target)) {
        const entry = this.node.directory.lookup(target.kind, target.id);
        if (entry && entry.node === this.node.nodeId) await this.handoff.claim(entry.openid);
      }
      const pushId = h.get('push-id');
      r = await system.push(
        target,
        m.data,
        Number(h.get('hint')) as NotifySyncHint,
        Number(h.get('bind')) || 0,
        pushId === '' ? undefined : pushId,
      );
      r = this.confirmed(r);
    }
    m.respond(enc.encode(JSON.stringify(r)));
  }
}
