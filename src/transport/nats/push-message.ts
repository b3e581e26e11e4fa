/**
 * Decoding a message of the push stream: the subject names the target
 * (P.push.openid.<id>, .session.<id>, .broadcast, .zone.<n>) unless the
 * request body does.
 */
import type { JsMsg } from 'nats';
import type { PushTarget } from '../../actors/session-system.js';
import type { NotifySyncHint } from '../../protocol/codes.js';
import { BroadcastRequest, UnicastPushRequest } from '../../protocol/messages.js';
import { validateUnicast } from '../grpc/gateway-server.js';
import { notifyPayload, pushTarget } from '../grpc/push-adapter.js';

export type UnicastPush = {
  kind: 'unicast';
  target: PushTarget;
  payload: Uint8Array;
  hint: NotifySyncHint;
  bindSeq: number;
};

export type ParsedPush =
  | UnicastPush
  | { kind: 'broadcast'; payload: Uint8Array; zone: number }
  // `broadcast` picks the response type the producer is waiting for.
  | { kind: 'bad'; reason: string; broadcast: boolean };

/** `pushAll` is the stream's wildcard subject (P.push.>). */
export function parsePush(m: JsMsg, pushAll: string): ParsedPush {
  const rest = m.subject.slice(pushAll.length - 1);
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
